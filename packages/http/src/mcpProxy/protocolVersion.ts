import type { ServerHello } from "@dtma/domain"

/**
 * The version a client of the proxy gets: the one it asked for when the DTMA speaks it, otherwise
 * the one the upstream server chose (as a server answers its own latest).
 */
export const negotiatedVersion = (asked: unknown, upstream: string, supported: ReadonlyArray<string>): string =>
  typeof asked === "string" && supported.includes(asked) ? asked : upstream

/**
 * The proxy's answer to `initialize`: the upstream's own result, under the negotiated version (for a
 * server that speaks 2026-07-28, whose hello holds a 2025-era result, that result's version).
 */
export const initializeResult = (hello: ServerHello, asked: unknown, supported: ReadonlyArray<string>): Readonly<Record<string, unknown>> => ({
  ...hello.result,
  protocolVersion: negotiatedVersion(asked, String(hello.result["protocolVersion"] ?? hello.protocolVersion), supported),
})
