import * as Effect from "effect/Effect"
import type { AuditLog, CredentialSource, HostMetrics, Instances, McpServers, McpServerView, OAuthConnectionView } from "@dtma/domain"
import type { Context } from "koa"
import type { Config } from "../composition/config.ts"
import type { Reply } from "../responses/errorTable.ts"
import type { Logger } from "../composition/logger.ts"

/** What the route handlers use. */
export interface HandlerDeps {
  readonly instances: Instances
  readonly mcpServers: McpServers
  readonly hostMetrics: HostMetrics
  /** The backend, for a standard tool's secrets (legacy `get-agent-tool-credentials`). */
  readonly credentialSource: CredentialSource
  /** Read by `GET /audit`; the requests themselves are recorded by the `auditRequests` middleware. */
  readonly auditLog: AuditLog
  readonly config: Config
  readonly logger: Logger
  readonly now: () => Date
}

export const send = (ctx: Context, reply: Reply): void => {
  ctx.status = reply.status
  ctx.body = reply.body
}

const HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/

/**
 * `http://<host>` as the caller reached the DTMA (its Host header), for URLs in answers; the
 * configured address when the header is missing or not a plain host.
 */
export const originOf = (ctx: Context, config: Config): string => {
  const host = ctx.get("host")
  return `${config.tls == null ? "http" : "https"}://${HOST.test(host) ? host : `${config.host}:${config.port}`}`
}

/** Every listed server's OAuth connection states (never a token), by server name. */
export const oauthOfAll = (
  mcpServers: McpServers,
  views: ReadonlyArray<McpServerView>,
): Effect.Effect<ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>>> =>
  Effect.forEach(
    views.filter((v) => v.oauth !== null),
    (v) =>
      mcpServers.oauth(v.instanceName).pipe(
        Effect.orElseSucceed(() => []),
        Effect.map((o) => [v.instanceName, o] as const),
      ),
  ).pipe(Effect.map((entries) => new Map(entries)))
