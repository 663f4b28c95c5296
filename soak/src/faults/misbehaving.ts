import { serverPath } from "../api.ts"
import { containersOfScope } from "../docker.ts"
import { probeOnce } from "../recovery.ts"
import { between, type FaultContext, type FaultRecord } from "./types.ts"

export const MISBEHAVING = "dtma/mcp-misbehaving:1"
const MODES = ["flood-stderr", "huge-line", "no-initialize", "ok"] as const

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let count = 0

/**
 * Deploys a misbehaving server (`dtma/mcp-misbehaving:1` in a random mode) beside the fleet, calls
 * its `echo` for 5-15 s if the deploy succeeded (a `huge-line` server misbehaves only when called),
 * and removes it. Only that server may fail meanwhile; "recovered" is the moment it is gone with no
 * container left.
 */
export const misbehaving = async (ctx: FaultContext, scope: string): Promise<FaultRecord> => {
  const mode = MODES[Math.floor(Math.random() * MODES.length)] ?? "ok"
  const name = `${ctx.run}-misb-${++count}-${mode}`
  const body = {
    dockerImageUrl: MISBEHAVING,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
    baseConfigOverrideJson: { Cmd: [mode] },
  }
  const injectedAt = Date.now()
  const deployed = await ctx.api.call("POST", "/mcp-servers", body, 120_000).catch((e: unknown) => ({ status: 0, body: String(e) }))
  const calls = { ok: 0, failed: 0 }
  if (deployed.status === 201) {
    const until = Date.now() + between(5_000, 15_000)
    const spec = { name, transport: "stdio", body, tool: "echo" as const }
    while (Date.now() < until) {
      if (await probeOnce(spec, `${ctx.api.url()}${serverPath(name)}/mcp`, ctx.token)) calls.ok++
      else calls.failed++
      await sleep(200)
    }
  }
  const removed = await ctx.api.call("DELETE", serverPath(name), undefined, 60_000).catch((e: unknown) => ({ status: 0, body: String(e) }))
  const left = (await containersOfScope(scope)).filter((c) => c.name === name).length
  const recoveredAt = left === 0 ? Date.now() : null
  const code = typeof deployed.body === "object" && deployed.body !== null ? ` (${String(deployed.body.code ?? "")})` : ""
  return {
    kind: "misbehaving",
    target: name,
    injectedAt,
    affected: [{ server: name, recoveredAt }],
    detail:
      `mode ${mode}: deploy ${deployed.status}${code}, its own calls ${calls.ok} answered / ${calls.failed} failed, ` +
      `delete ${removed.status}, containers left ${left}`,
  }
}
