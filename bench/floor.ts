// The machine's floor under the closed-loop figures' clients: `node bench/floor.ts [seconds]`.
// Runs bench/lib/floorServer.ts, a bare node:http server that answers and does nothing else, in a
// process of its own, and drives it with the clients of the discovery figure (32 pollers with
// `If-None-Match`, bodiless 304s) and of the `/mcp` list figure (32 bare sessions, `ping` in turns
// with a `tools/list` of the same size as the figure's, 10 × 50 tools), the same load code and the
// same checks. What it measures no server on this machine can beat: the latency the clients'
// own CPU and the kernel leave, and the server's CPU per request for nothing but HTTP.
import { Agent } from "node:http"
import { join } from "node:path"
import { get } from "./discovery.ts"
import { startChildServer } from "./lib/childServer.ts"
import { alternating, closedLoop } from "./lib/load.ts"
import { cpuProbe, loadNow } from "./lib/proc.ts"
import { checkedRequest, openRawSession } from "./lib/rawMcp.ts"
import { round } from "./lib/stats.ts"

const seconds = Number(process.argv[2] ?? 5)
const CLIENTS = 32
const LIST_BYTES = 179_000

const child = await startChildServer(join(import.meta.dirname, "lib", "floorServer.ts"), ["0", String(LIST_BYTES)])
try {
  const url = `http://127.0.0.1:${child.port}`
  const perRequest = (probed: number | undefined, n: number) => (probed === undefined || n === 0 ? "–" : `${Math.round((probed * 1e6) / n)}`)
  console.log(`load average (1 / 5 / 15 min) at the start: ${loadNow()}`)

  const pollers = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  const first = await get(pollers, new URL(url), {})
  const poll = async () => {
    const { status } = await get(pollers, new URL(url), { authorization: "Bearer floor", "if-none-match": first.etag })
    if (status !== 304) throw new Error(`the floor answered ${status}, 304 expected`)
  }
  const polls = await closedLoop(
    Array.from({ length: CLIENTS }, () => poll),
    { warmupMs: 1_000, durationMs: seconds * 1000, probe: cpuProbe(child.pid) },
  )
  pollers.destroy()
  console.log(
    `${CLIENTS} pollers, If-None-Match → 304: p50 ${round(polls.latencyMs.p50)} ms, p99 ${round(polls.latencyMs.p99)} ms, ` +
      `${Math.round(polls.perSecond)}/s, server CPU ${perRequest(polls.probed, polls.latencyMs.n)} µs a request, ${polls.errors} errors`,
  )

  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS })
  const sessions = await Promise.all(Array.from({ length: CLIENTS }, () => openRawSession(agent, `${url}/mcp`, "floor")))
  const pings = await Promise.all(sessions.map((s) => checkedRequest(s, "ping")))
  const lists = await Promise.all(sessions.map((s) => checkedRequest(s, "tools/list")))
  const turns = await alternating(
    { a: pings.map((p) => p.operation), b: lists.map((l) => l.operation) },
    { warmupMs: 1_000, segmentMs: 1_000, rounds: Math.max(2, seconds), probe: cpuProbe(child.pid) },
  )
  await Promise.all(sessions.map((s) => s.close()))
  agent.destroy()
  for (const [label, arm, probed] of [
    ["ping", turns.a, turns.probed?.a],
    [`tools/list (${lists[0]?.bytes ?? 0} bytes)`, turns.b, turns.probed?.b],
  ] as const) {
    console.log(
      `${CLIENTS} sessions, ${label}: p50 ${round(arm.latencyMs.p50)} ms, p99 ${round(arm.latencyMs.p99)} ms, ` +
        `${Math.round(arm.perSecond)}/s, server CPU ${perRequest(probed, arm.latencyMs.n)} µs a request, ${arm.errors} errors`,
    )
  }
  console.log(`load average at the end: ${loadNow()}`)
} finally {
  child.stop()
}
