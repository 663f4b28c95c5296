import { serverPath } from "../api.ts"
import { historySince, waitRecovered } from "../recovery.ts"
import type { FaultContext, FaultRecord, ServerFault } from "./types.ts"

/** `POST /mcp-servers/:name/redeploy` with the server's own deploy body: a zero-downtime replacement. */
export const redeploy: ServerFault = async (ctx, spec) => {
  const injectedAt = Date.now()
  const answer = await ctx.api.call("POST", `${serverPath(spec.name)}/redeploy`, spec.body, 120_000).catch((e: unknown) => ({ status: 0, body: String(e) }))
  const recoveredAt = await waitRecovered(ctx.api, spec, ctx.token)
  const detail = answer.status === 200 ? "redeploy 200" : `redeploy ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}`
  return {
    kind: "redeploy",
    target: spec.name,
    injectedAt,
    affected: [{ server: spec.name, recoveredAt }],
    detail,
    history: await historySince(ctx.api, spec.name, injectedAt),
  }
}

/** SIGKILL of the DTMA and a restart (same scope, port and state); every server must come back. */
export const dtmaKill = async (ctx: FaultContext): Promise<FaultRecord> => {
  const injectedAt = Date.now()
  const answeringAt = await ctx.restartDtma()
  const affected = await Promise.all(ctx.fleet.map(async (spec) => ({ server: spec.name, recoveredAt: await waitRecovered(ctx.api, spec, ctx.token) })))
  return { kind: "dtma-kill", target: "*", injectedAt, affected, detail: `DTMA answering /health ${answeringAt - injectedAt} ms after the SIGKILL` }
}
