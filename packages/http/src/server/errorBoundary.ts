import type { Middleware } from "koa"
import { INTERNAL_ERROR } from "../responses/errorTable.ts"
import { ForbiddenBodyKey } from "./forbiddenBodyKey.ts"
import type { Logger } from "../composition/logger.ts"

const statusOf = (error: unknown): number | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const status = "status" in error ? error.status : "statusCode" in error ? error.statusCode : undefined
  return typeof status === "number" ? status : undefined
}

// zlib's errors carry codes like Z_DATA_ERROR and no HTTP status: a caller's corrupt body, not a bug.
const isDecompressionError = (error: unknown): boolean =>
  typeof error === "object" &&
  error !== null &&
  "code" in error &&
  typeof error.code === "string" &&
  (error.code.startsWith("Z_") ||
    error.code.startsWith("ERR__ERROR_FORMAT") ||
    error.code === "ERR_BROTLI_DECOMPRESSION_FAILED" ||
    /decompress/i.test(String((error as { message?: unknown }).message)))

// JSON.parse messages quote the input, which may hold secrets: keep only the position.
const malformedJson = (error: SyntaxError): string => {
  if (error.message.includes("only supports object and array")) return "Malformed JSON body: the body must be a JSON object"
  const position = /at position (\d+)/.exec(error.message)?.[1]
  return `Malformed JSON body: ${position === undefined ? "the body is not valid JSON" : `invalid JSON at position ${position}`}`
}

/**
 * Answers whatever the layers below throw with JSON: bad bodies as 4xx, anything else as a logged
 * 500. Nothing a caller sends can produce a 500.
 */
export const errorBoundary =
  (logger: Logger): Middleware =>
  async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      const status = statusOf(error)
      // The same envelope as malformed JSON, on every route (the MCP endpoint's included).
      if (error instanceof ForbiddenBodyKey) {
        ctx.status = 400
        ctx.body = { success: false, error: error.message, code: "forbidden_key" }
      } else if (status === 400 && error instanceof SyntaxError) {
        ctx.status = 400
        ctx.body = { success: false, error: malformedJson(error), code: "malformed_json" }
      } else if (status === 413) {
        ctx.status = 413
        ctx.body = { success: false, error: "Request body too large: the limit is 1 MB", code: "payload_too_large" }
      } else if (status === 415) {
        ctx.status = 415
        ctx.body = { success: false, error: "Unsupported Media Type: unsupported body encoding", code: "unsupported_media_type" }
      } else if (isDecompressionError(error)) {
        ctx.status = 400
        ctx.body = { success: false, error: "Malformed body: it does not decompress as its Content-Encoding says", code: "bad_encoding" }
      } else if (status !== undefined && status >= 400 && status < 500) {
        ctx.status = status
        ctx.body = { success: false, error: "Bad request: the request body could not be read", code: "bad_request" }
      } else {
        // Name, message and stack only: an error's other fields may carry the request body.
        const { name, message, stack } = error instanceof Error ? error : new Error(String(error))
        logger.error({ error: { name, message, stack }, method: ctx.method, path: ctx.path }, "unexpected error while handling a request (a bug)")
        ctx.status = INTERNAL_ERROR.status
        ctx.body = INTERNAL_ERROR.body
      }
    }
  }
