import { bodyParser } from "@koa/bodyparser"
import type { Context, Middleware } from "koa"
import { forbiddenKeyOf } from "./forbiddenBodyKey.ts"
import { plainJsonLengthOf, readPlainJson } from "./plainJsonBody.ts"

export const JSON_LIMIT = "1mb"
const JSON_TYPES = ["application/json", "application/*+json"]
const PARSED_METHODS = ["POST", "PUT", "PATCH"]

const hasBody = (length: number | undefined, transferEncoding: string): boolean => (length === undefined ? transferEncoding !== "" : length > 0)

/**
 * The parser's own refusal of a `__proto__` key (it throws a SyntaxError, as for malformed JSON) as
 * a `ForbiddenBodyKey` naming where it is: the text is valid JSON when plain `JSON.parse` reads it
 * (which makes `__proto__` an own property and pollutes nothing).
 */
const prototypeKeyIn = (error: Error): Error => {
  const text: unknown = Reflect.get(error, "body")
  if (!(error instanceof SyntaxError) || typeof text !== "string") return error
  try {
    return forbiddenKeyOf(JSON.parse(text)) ?? error
  } catch {
    return error
  }
}

const isJsonType = (ctx: Context): boolean => {
  const type = ctx.get("content-type")
  // The type every MCP client sends, told without parsing the header; anything else as Koa reads it.
  return type === "application/json" || ctx.request.is(JSON_TYPES) !== false
}

/**
 * JSON bodies only, at most 1 MB: a body of another type is a 415 here; malformed and oversized
 * bodies, and bodies with a `__proto__` or `constructor.prototype` key, are thrown (400/413) for
 * the error boundary to answer. An empty body parses as `{}`. A plain body (a Content-Length within
 * the limit, no Content-Encoding: every MCP call) is read and parsed once here (`plainJsonBody.ts`),
 * with the same answers; any other goes through @koa/bodyparser.
 */
export const jsonBody = (): Middleware => {
  const parse = bodyParser({
    enableTypes: ["json"],
    jsonLimit: JSON_LIMIT,
    detectJSON: () => true,
    parsedMethods: PARSED_METHODS,
    onError: (error) => {
      throw prototypeKeyIn(error)
    },
  })
  return async (ctx, next) => {
    if (!PARSED_METHODS.includes(ctx.method)) return next()
    if (hasBody(ctx.request.length, ctx.get("transfer-encoding")) && !isJsonType(ctx)) {
      ctx.status = 415
      ctx.body = { success: false, error: "Unsupported Media Type: send the body as application/json", code: "unsupported_media_type" }
      return
    }
    const length = ctx.request.body === undefined && !ctx.req.closed ? plainJsonLengthOf(ctx.req.headers) : null
    if (length !== null) {
      const { parsed, raw } = await readPlainJson(ctx.req, length)
      ctx.request.body = parsed
      ;(ctx.request as { rawBody?: string }).rawBody = raw
      return next()
    }
    return parse(ctx, () => {
      const forbidden = forbiddenKeyOf(ctx.request.body)
      if (forbidden !== null) throw forbidden
      return next()
    })
  }
}
