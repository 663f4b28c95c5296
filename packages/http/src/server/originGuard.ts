import type { Context, Middleware } from "koa"
import { EdgeErrorCodes, isMcpEndpoint, refuseMcp } from "./mcpEndpoints.ts"

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])

/** Whether a socket address is a loopback one (127.0.0.0/8, ::1, or 127/8 mapped into IPv6). */
export const isLoopbackAddress = (address: string | undefined): boolean =>
  address !== undefined && (address === "::1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address))

/** The host name of a `Host` header value (`name[:port]`, `[v6][:port]`), lowercased; null when it is not one. */
export const hostNameOf = (host: string): string | null => {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.exec(host.trim())
  return match?.[1] === undefined ? null : match[1].toLowerCase()
}

export interface OriginGuardOptions {
  /** Browser origins allowed besides the DTMA's own (`DTMA_ALLOWED_ORIGINS`), as `scheme://host[:port]`. */
  readonly allowedOrigins: ReadonlyArray<string>
  /** The host name callers reach the DTMA by (`DTMA_PUBLIC_HOST`), accepted in `Host` besides loopback names. */
  readonly publicHost: string | null
}

/**
 * Refuses, on the MCP endpoints, what a browser tricked into calling the DTMA would send (MCP's
 * transport security warning; agent-access spec, "Origin and Host"):
 * - a request arriving on a loopback address whose `Host` is neither a loopback name nor the public
 *   host: a DNS-rebinding page, whose name now resolves to 127.0.0.1;
 * - a request whose `Origin` is neither allowed nor the DTMA's own, `http(s)://` + its `Host` when
 *   that `Host` is a loopback name or the public host (a same-origin request is not a cross-site one).
 * Callers that are not browsers send no `Origin` and reach the DTMA by any name off loopback.
 */
export const originGuard = (options: OriginGuardOptions): Middleware => {
  const allowed = new Set(options.allowedOrigins.map((o) => o.toLowerCase()))
  const knownHost = (name: string | null): boolean => name !== null && (LOOPBACK_NAMES.has(name) || name === options.publicHost?.toLowerCase())
  const refuse = (ctx: Context, message: string): void => refuseMcp(ctx, { status: 403, code: EdgeErrorCodes.Forbidden, error: "forbidden_origin", message })

  return async (ctx, next) => {
    if (!isMcpEndpoint(ctx.path)) return next()
    const host = ctx.get("host")
    const hostKnown = knownHost(hostNameOf(host))
    if (isLoopbackAddress(ctx.req.socket.localAddress) && !hostKnown) {
      return refuse(ctx, "Forbidden: this DTMA is reached on a loopback address but the Host header names another host (DNS rebinding is refused)")
    }
    const origin = ctx.get("origin").toLowerCase()
    if (origin !== "" && !allowed.has(origin) && !(hostKnown && (origin === `http://${host.toLowerCase()}` || origin === `https://${host.toLowerCase()}`))) {
      return refuse(ctx, "Forbidden: requests from this Origin are not allowed (DTMA_ALLOWED_ORIGINS lists the allowed ones)")
    }
    return next()
  }
}
