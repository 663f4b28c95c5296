import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "@dtma/domain"
import { makeResumeGuard } from "../../src/mcp/resumeGuard.ts"

/** A guard over a fetch that records what reached it and answers 200. */
const guarded = () => {
  const reached: Array<{ method: string; lastEventId: string | null }> = []
  const guard = makeResumeGuard(async (_url, init) => {
    reached.push({ method: init?.method ?? "GET", lastEventId: new Headers(init?.headers).get("last-event-id") })
    return new Response(null, { status: 200 })
  })
  /** Sends request `id` as the transport would, its stream carrying `events`, and delivers `answer`. */
  const exchange = (id: number, events: ReadonlyArray<string>, answer: JsonRpcMessage) => {
    const options = guard.sendOptions({ jsonrpc: "2.0", id, method: "tools/call" })
    for (const event of events) options?.onresumptiontoken?.(event)
    guard.saw(answer)
  }
  const resume = async (lastEventId: string) =>
    (await guard.fetch("http://127.0.0.1/mcp", { method: "GET", headers: new Headers({ "last-event-id": lastEventId }) })).status
  return { guard, reached, exchange, resume }
}

describe("the resume guard of a Streamable HTTP connection", () => {
  it("answers 405 itself, once, to the resumption of a stream that ended with an error answer", async () => {
    const { reached, exchange, resume } = guarded()
    exchange(1, ["p1", "e1"], { jsonrpc: "2.0", id: 1, error: { code: -32602, message: "no such prompt" } })
    expect(await resume("e1")).toBe(405)
    expect(reached).toEqual([])
    expect(await resume("e1")).toBe(200)
    expect(reached).toEqual([{ method: "GET", lastEventId: "e1" }])
  })

  it("passes on every other resumption: of a stream still waiting for its answer, or answered with a result, or unknown", async () => {
    const { reached, exchange, resume } = guarded()
    exchange(1, ["p1"], { jsonrpc: "2.0", method: "notifications/progress", params: {} })
    exchange(2, ["p2", "e2"], { jsonrpc: "2.0", id: 2, result: {} })
    for (const token of ["p1", "e2", "unknown"]) expect(await resume(token)).toBe(200)
    expect(reached.map((r) => r.lastEventId)).toEqual(["p1", "e2", "unknown"])
  })

  it("passes on requests and notifications untouched, and gives notifications no send options", async () => {
    const { guard, reached } = guarded()
    expect(guard.sendOptions({ jsonrpc: "2.0", method: "notifications/initialized" })).toBeUndefined()
    await guard.fetch("http://127.0.0.1/mcp", { method: "POST", body: "{}" })
    await guard.fetch("http://127.0.0.1/mcp", { method: "GET", headers: new Headers({ accept: "text/event-stream" }) })
    expect(reached).toEqual([
      { method: "POST", lastEventId: null },
      { method: "GET", lastEventId: null },
    ])
  })

  it("forgets the oldest answered streams beyond a bound, so a long connection cannot grow it", async () => {
    const { exchange, resume } = guarded()
    for (let id = 1; id <= 1_100; id++) exchange(id, [`e${id}`], { jsonrpc: "2.0", id, error: { code: -1, message: "no" } })
    expect(await resume("e1")).toBe(200)
    expect(await resume("e1100")).toBe(405)
  })
})
