import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type { ServerSpec } from "./fleet.ts"
import { callCheap, connectClient, dropClient } from "./mcp.ts"

/** One failed attempt: a tool call, or a (re)connect of a client. */
export interface Failure {
  readonly server: string
  readonly client: number
  readonly what: "call" | "connect"
  readonly start: number
  readonly end: number
  readonly error: string
  /** When the client's session was opened (null for a failed connect). */
  readonly sessionSince: number | null
}

/** Per server: calls answered, calls and connects attempted. */
export interface ServerTally {
  calls: number
  callsOk: number
  connects: number
}

export interface ClientPool {
  readonly failures: ReadonlyArray<Failure>
  readonly tallies: ReadonlyMap<string, ServerTally>
  /** Stops every loop after its attempt in flight and ends every session. */
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether a failure says the DTMA no longer knows the session (404 "Session not found"). */
export const sessionLost = (error: unknown): boolean =>
  (typeof error === "object" && error !== null && "code" in error && error.code === 404) || String(error).includes("Session not found")

/**
 * `perServer` clients for each server, each calling its server's cheap tool back to back through
 * `endpointOf(name)`. A failed attempt is recorded and retried after a short pause (a down endpoint
 * is not hammered); the session is kept (it outlives a restart of its server) unless the DTMA
 * answers that it does not know it (a restarted DTMA forgets sessions): then the client reconnects.
 */
export const startClientPool = (fleet: ReadonlyArray<ServerSpec>, perServer: number, endpointOf: (name: string) => string, token: string): ClientPool => {
  const failures: Array<Failure> = []
  const tallies = new Map<string, ServerTally>(fleet.map((s) => [s.name, { calls: 0, callsOk: 0, connects: 0 }]))
  const state = { stopped: false }
  const loop = async (spec: ServerSpec, id: number) => {
    const tally = tallies.get(spec.name)!
    let client: Client | null = null
    let sessionSince: number | null = null
    for (let n = 0; !state.stopped; n++) {
      const start = Date.now()
      const what = client === null ? "connect" : "call"
      try {
        if (client === null) {
          tally.connects++
          client = await connectClient(endpointOf(spec.name), token)
          sessionSince = Date.now()
        } else {
          tally.calls++
          await callCheap(client, spec.tool, `soak client ${id} call ${n}`)
          tally.callsOk++
        }
      } catch (error) {
        failures.push({
          server: spec.name,
          client: id,
          what,
          start,
          end: Date.now(),
          error: String(error).slice(0, 300),
          sessionSince: client === null ? null : sessionSince,
        })
        if (client !== null && sessionLost(error)) {
          void dropClient(client)
          client = null
        }
        await sleep(200)
      }
    }
    if (client !== null) await dropClient(client)
  }
  const loops = fleet.flatMap((spec, i) => Array.from({ length: perServer }, (_, k) => loop(spec, i * perServer + k)))
  return {
    failures,
    tallies,
    stop: async () => {
      state.stopped = true
      await Promise.all(loops)
    },
  }
}
