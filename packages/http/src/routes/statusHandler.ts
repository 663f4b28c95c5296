import * as Effect from "effect/Effect"
import type { Middleware } from "koa"
import { replyOf } from "../responses/replyOf.ts"
import { statusBody } from "../responses/statusBody.ts"
import { oauthOfAll, send, type HandlerDeps } from "./HandlerDeps.ts"

/** `GET /status` and `GET /tools/status`: managed instances, MCP server health and the host's metrics. */
export const statusHandler =
  (deps: HandlerDeps): Middleware =>
  async (ctx) => {
    const snapshot = Effect.all({
      instances: deps.instances.list(),
      system: deps.hostMetrics.sample(),
      mcpServers: Effect.sync(() => deps.mcpServers.list()),
    }).pipe(Effect.flatMap((s) => Effect.map(oauthOfAll(deps.mcpServers, s.mcpServers), (oauth) => ({ ...s, oauth: [...oauth.values()].flat() }))))
    send(
      ctx,
      await replyOf(snapshot, {
        operation: { verb: "list" },
        logger: deps.logger,
        onSuccess: ({ instances, system, mcpServers, oauth }) => ({
          status: 200,
          body: statusBody({ instances, system, mcpServers, oauth, config: deps.config, now: deps.now() }),
        }),
      }),
    )
  }
