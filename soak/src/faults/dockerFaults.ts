import { docker } from "../docker.ts"
import { historySince, waitRecovered } from "../recovery.ts"
import { between, type FaultContext, type FaultKind, type FaultRecord, type ServerFault } from "./types.ts"
import type { ServerSpec } from "../fleet.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs `act` on the server's current container, then waits for the server to recover. */
const onContainer =
  (kind: FaultKind, act: (id: string) => Promise<string>): ServerFault =>
  async (ctx: FaultContext, spec: ServerSpec): Promise<FaultRecord> => {
    const detail = await ctx.api.detail(spec.name)
    const id = detail?.container.id ?? ""
    const injectedAt = Date.now()
    const outcome = id === "" ? "no container id from the API" : await act(id).catch((e: unknown) => `failed: ${String(e).slice(0, 200)}`)
    const recoveredAt = await waitRecovered(ctx.api, spec, ctx.token)
    const history = await historySince(ctx.api, spec.name, injectedAt)
    return { kind, target: spec.name, injectedAt, affected: [{ server: spec.name, recoveredAt }], detail: outcome, history }
  }

/** `docker kill` of the server's container (SIGKILL, exit 137). */
export const dockerKill: ServerFault = onContainer("docker-kill", async (id) => {
  await docker("kill", id)
  return "killed"
})

/** `docker pause` for 3-15 s (a hung server), then `docker unpause`. */
export const dockerPause: ServerFault = onContainer("docker-pause", async (id) => {
  const holdMs = between(3_000, 15_000)
  await docker("pause", id)
  await sleep(holdMs)
  // The DTMA may have replaced or restarted the container meanwhile.
  const unpaused = await docker("unpause", id).then(
    () => "unpaused",
    (e: unknown) => `unpause failed (${String(e).split("\n")[0]?.slice(0, 120)})`,
  )
  return `paused ${(holdMs / 1000).toFixed(1)} s, ${unpaused}`
})

/** `docker restart -t 5` of the server's container. */
export const dockerRestart: ServerFault = onContainer("docker-restart", async (id) => {
  await docker("restart", "-t", "5", id)
  return "restarted"
})
