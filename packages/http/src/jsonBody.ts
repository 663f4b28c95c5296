import { bodyParser } from "@koa/bodyparser"
import type { Middleware } from "koa"

export const JSON_LIMIT = "1mb"
const JSON_TYPES = ["application/json", "application/*+json"]
const PARSED_METHODS = ["POST", "PUT", "PATCH"]

const hasBody = (length: number | undefined, transferEncoding: string): boolean =>
  length === undefined ? transferEncoding !== "" : length > 0

/**
 * JSON bodies only, at most 1 MB: a body of another type is a 415 here; malformed and oversized
 * bodies are thrown (400/413) for the error boundary to answer. An empty body parses as `{}`.
 */
export const jsonBody = (): Middleware => {
  const parse = bodyParser({ enableTypes: ["json"], jsonLimit: JSON_LIMIT, detectJSON: () => true, parsedMethods: PARSED_METHODS })
  return async (ctx, next) => {
    if (!PARSED_METHODS.includes(ctx.method)) return next()
    if (hasBody(ctx.request.length, ctx.get("transfer-encoding")) && ctx.request.is(JSON_TYPES) === false) {
      ctx.status = 415
      ctx.body = { success: false, error: "Unsupported Media Type: send the body as application/json", code: "unsupported_media_type" }
      return
    }
    return parse(ctx, next)
  }
}
