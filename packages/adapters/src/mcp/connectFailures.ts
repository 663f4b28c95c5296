import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpConnectFailed } from "@dtma/domain"
import { dockerMessageOf, statusCodeOf } from "../docker/dockerErrors.ts"
import type { SendFailure } from "./transportChannel.ts"

/**
 * Settles like `promise`, or fails `McpConnectFailed` (timeout) at the deadline, or when `signal`
 * aborts. The promise itself is not cancelled: its owner cleans up.
 */
export const withDeadline = <A>(promise: Promise<A>, deadline: number, signal?: AbortSignal): Promise<A> =>
  new Promise((resolve, reject) => {
    const expire = () => {
      cleanUp()
      reject(new McpConnectFailed({ reason: "timeout", detail: `no connection within the time allowed` }))
    }
    const timer = setTimeout(expire, Math.max(0, deadline - Date.now()))
    signal?.addEventListener("abort", expire, { once: true })
    function cleanUp() {
      clearTimeout(timer)
      signal?.removeEventListener("abort", expire)
    }
    promise.then(
      (value) => {
        cleanUp()
        resolve(value)
      },
      (error: unknown) => {
        cleanUp()
        reject(error)
      },
    )
  })

/** Why attaching to a stdio server's container failed. */
export const attachFailure = (containerId: string, error: unknown): McpConnectFailed => {
  if (error instanceof McpConnectFailed) return error
  const status = statusCodeOf(error)
  if (status === 404) return new McpConnectFailed({ reason: "unreachable", detail: `container ${containerId} does not exist` })
  if (status === 409) return new McpConnectFailed({ reason: "unreachable", detail: `container ${containerId} is not running` })
  return new McpConnectFailed({ reason: "unreachable", detail: `attaching to container ${containerId} failed: ${dockerMessageOf(error)}` })
}

/**
 * A failed send over HTTP (SSE or Streamable HTTP): no answer at all means the server is gone; a 404
 * on Streamable HTTP means the session is gone; any other HTTP refusal concerns this message only.
 */
export const httpSendFailure = (error: unknown): SendFailure => {
  const detail = error instanceof Error ? error.message : String(error)
  if (error instanceof StreamableHTTPError) {
    return error.code === 404
      ? { reason: "closed", detail: `the server ended the session: ${detail}`, fatal: true }
      : { reason: "protocol", detail, fatal: false }
  }
  // fetch rejects with a TypeError when no HTTP answer came (refused, reset, DNS).
  if (error instanceof TypeError)
    return { reason: "unreachable", detail: `${detail}${error.cause instanceof Error ? ` (${error.cause.message})` : ""}`, fatal: true }
  return { reason: "protocol", detail, fatal: false }
}
