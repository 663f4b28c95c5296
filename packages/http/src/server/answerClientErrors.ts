import type { Server } from "node:http"
import type { Duplex } from "node:stream"

const answers: Readonly<Record<string, readonly [number, string, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, "Request Header Fields Too Large", "Request line and headers too large: they must fit in 16 KB", "headers_too_large"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "The request did not arrive in time", "request_timeout"],
}
const MALFORMED = [400, "Bad Request", "Malformed HTTP request: its method, path or headers could not be parsed", "malformed_http"] as const

/**
 * Requests Node's HTTP parser refuses never reach Koa; without this, Node answers them with an
 * empty body. Every refusal gets a JSON error that says what is wrong, like any other 4xx.
 */
export const answerClientErrors = (server: Server): void => {
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy()
      return
    }
    const [status, reason, message, code] = answers[error.code ?? ""] ?? MALFORMED
    const body = JSON.stringify({ success: false, error: message, code })
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  })
}
