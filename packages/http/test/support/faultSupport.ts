import { readFileSync } from "node:fs"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type { DtmaProcess } from "./dtmaProcess.ts"
import { echoLoop, mcpClient, type CallLoop, type CallTally } from "./mcpClient.ts"

// Helpers shared by the fault tests (`faults*.docker.test.ts`): deploys, views, a bystander.

export const MISBEHAVING = "dtma/mcp-misbehaving:1"
export const EVERYTHING = "dtma/mcp-everything:2026.8.31"

export interface HealthRecord {
  readonly at: string
  readonly status: string
  readonly detail: string | null
}

/** What `GET /mcp-servers/:name` answers in `data` (the parts these tests read). */
export interface Detail {
  readonly healthStatus: string
  readonly restartCount: number
  readonly lastError: string | null
  readonly healthHistory: ReadonlyArray<HealthRecord>
  readonly container: { readonly id: string; readonly image: string; readonly state: string }
}

/** A stdio deploy body for `name` (server-everything unless `body` says otherwise). */
export const deployBody = (name: string, body: Record<string, unknown> = {}): Record<string, unknown> => ({
  dockerImageUrl: EVERYTHING,
  instanceNameOnToolbox: name,
  accountToolInstanceId: `ati-${name}`,
  mcpTransportType: "stdio",
  ...body,
})

/** A deploy of `dtma/mcp-misbehaving:1` in `mode`. */
export const misbehaving = (name: string, mode: string, ...args: ReadonlyArray<string>): Record<string, unknown> =>
  deployBody(name, { dockerImageUrl: MISBEHAVING, baseConfigOverrideJson: { Cmd: [mode, ...args] } })

export const deployed = async (dtma: DtmaProcess, body: Record<string, unknown>): Promise<{ containerId: string }> => {
  const res = await dtma.call("POST", "/mcp-servers", body)
  if (res.status !== 201) throw new Error(`deploying ${String(body["instanceNameOnToolbox"])} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body.data
}

export const detail = async (dtma: DtmaProcess, name: string): Promise<Detail> => {
  const res = await dtma.call("GET", `/mcp-servers/${encodeURIComponent(name)}`)
  if (res.status !== 200) throw new Error(`GET /mcp-servers/${name} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body.data
}

export const clientOf = (dtma: DtmaProcess, name: string): Promise<Client> => mcpClient(`${dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`, dtma.token!)

/** The history entries since `since` (unix ms), one per line, relative to it: for the test log. */
export const historySince = (view: Detail, since: number): string =>
  view.healthHistory
    .filter((h) => Date.parse(h.at) >= since)
    .map((h) => `+${Date.parse(h.at) - since} ms ${h.status}${h.detail === null ? "" : ` (${h.detail})`}`)
    .join("\n  ")

/** Resident memory of a process in MiB, from /proc. */
export const rssMiB = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))
  return Math.round(Number(line?.replace(/\D+/g, "") ?? 0) / 1024)
}

/**
 * A healthy server that is not faulted, called back to back by a few client sessions for the whole
 * fault: every call must succeed.
 */
export interface Bystander {
  /** Stops the loops; the summed tally of every session. */
  stop(): Promise<CallTally>
  readonly ok: () => number
}

export const startBystander = async (dtma: DtmaProcess, name: string, sessions = 2): Promise<Bystander> => {
  const clients = await Promise.all(Array.from({ length: sessions }, () => clientOf(dtma, name)))
  const loops: ReadonlyArray<CallLoop> = clients.map((c, i) => echoLoop(c, `bystander ${i}`))
  return {
    ok: () => loops.reduce((sum, l) => sum + l.tally.ok, 0),
    stop: async () => {
      const tallies = await Promise.all(loops.map((l) => l.stop()))
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
      return {
        ok: tallies.reduce((s, t) => s + t.ok, 0),
        failed: tallies.reduce((s, t) => s + t.failed, 0),
        errors: tallies.flatMap((t) => t.errors),
        failedAt: tallies.flatMap((t) => t.failedAt),
      }
    },
  }
}

/** How a call ended: its answer text or its error, and how long it took. */
export const timed = async <A>(call: () => Promise<A>): Promise<{ ms: number; value?: A; error?: string }> => {
  const started = Date.now()
  try {
    const value = await call()
    return { ms: Date.now() - started, value }
  } catch (error) {
    return { ms: Date.now() - started, error: String(error) }
  }
}
