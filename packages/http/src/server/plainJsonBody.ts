import type { IncomingHttpHeaders, IncomingMessage } from "node:http"
import { forbiddenKeyOf } from "./forbiddenBodyKey.ts"

/** @koa/bodyparser's `jsonLimit` ("1mb", as the `bytes` package reads it). */
const LIMIT_BYTES = 1024 * 1024

/** co-body's strict JSON: the first thing after whitespace opens an object or an array. */
const STRICT_JSON = /^[ \t\n\r]*(\[|\{)/

const DIGITS = /^\d+$/

/** An error as raw-body and co-body throw them: the error boundary answers by its `status`. */
const bodyError = (message: string, status: number): Error => Object.assign(new Error(message), { status })

/**
 * The length of a body this reader takes: one with a Content-Length of 1 to 1 MiB and no
 * Content-Encoding (every MCP call). Null for any other, which @koa/bodyparser reads as before:
 * no length (chunked), an empty or oversized one (its 413), a compressed one.
 */
export const plainJsonLengthOf = (headers: IncomingHttpHeaders): number | null => {
  const length = headers["content-length"]
  const encoding = headers["content-encoding"]
  if (length === undefined || !DIGITS.test(length) || (encoding !== undefined && encoding !== "identity")) return null
  const bytes = Number(length)
  return bytes > 0 && bytes <= LIMIT_BYTES ? bytes : null
}

/**
 * The value of `text` as @koa/bodyparser (co-body, strict, @hapi/bourne refusing prototype keys)
 * reads it, with one `JSON.parse`: a byte order mark is dropped (as iconv-lite's decoder does), a
 * text that opens neither an object nor an array is a SyntaxError, and so is malformed JSON, each
 * with status 400. A `__proto__` or `constructor.prototype` key is a `ForbiddenBodyKey`, looked for
 * only when the text could hold one (a key reaches JSON only spelled out, or escaped with `\`).
 */
export const parsePlainJson = (text: string): unknown => {
  const str = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let parsed: unknown
  try {
    if (!STRICT_JSON.test(str)) throw new SyntaxError("invalid JSON, only supports object and array")
    parsed = JSON.parse(str)
  } catch (error) {
    throw Object.assign(error as Error, { status: 400 })
  }
  if (str.includes("__proto__") || str.includes("prototype") || str.includes("\\")) {
    const forbidden = forbiddenKeyOf(parsed)
    if (forbidden !== null) throw forbidden
  }
  return parsed
}

/**
 * Reads a body of `length` bytes (`plainJsonLengthOf`) and parses it (`parsePlainJson`). A request
 * that ends short (the client went away) is a 400, as raw-body says it.
 */
export const readPlainJson = (req: IncomingMessage, length: number): Promise<{ readonly parsed: unknown; readonly raw: string }> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let received = 0
    const done = (error: Error | null) => {
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("aborted", onAborted)
      req.off("error", onError)
      if (error !== null) return reject(error)
      if (received !== length) return reject(bodyError("request size did not match content length", 400))
      const raw = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received)).toString("utf8")
      try {
        resolve({ parsed: parsePlainJson(raw), raw })
      } catch (refused) {
        reject(refused)
      }
    }
    const onData = (chunk: Buffer) => {
      received += chunk.length
      if (received > length) return done(bodyError("request size did not match content length", 400))
      chunks.push(chunk)
    }
    const onEnd = () => done(null)
    const onAborted = () => done(bodyError("request aborted", 400))
    const onError = (error: Error) => done(Object.assign(error, { status: 400 }))
    req.on("data", onData)
    req.once("end", onEnd)
    req.once("aborted", onAborted)
    req.once("error", onError)
  })
