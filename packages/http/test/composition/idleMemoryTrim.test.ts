import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { makeIdleMemoryTrim } from "../../src/composition/idleMemoryTrim.ts"
import { dtmaNodeFlags } from "../../src/nodeFlags.ts"
import { capturingLogger } from "../support/support.ts"

const MB = 1024 * 1024

/** A process whose RSS and busy share the test sets; `collect` gives back `reclaimable` MB. */
const setup = (startMB = 120) => {
  const state = { rssMB: startMB, busy: 0, calls: 0, reclaimableMB: 0, collections: 0 }
  const { logger, lines } = capturingLogger()
  const trim = makeIdleMemoryTrim({
    collect: () => {
      state.collections++
      state.rssMB -= state.reclaimableMB
      state.reclaimableMB = 0
    },
    rss: () => state.rssMB * MB,
    busyShare: () => state.busy,
    callsBegun: () => state.calls,
    logger,
  })
  return { state, trim, lines }
}

describe("giving memory back when idle after a burst", () => {
  it("collects once RSS grew by 16 MB and the loop was idle since the last look, and logs what it gave back", () => {
    const { state, trim, lines } = setup()
    state.rssMB = 135
    state.reclaimableMB = 100
    expect(trim.check()).toBe(false)
    state.rssMB = 260
    state.busy = 0.4
    expect(trim.check()).toBe(false)
    state.busy = 0.01
    expect(trim.check()).toBe(true)
    expect(state).toMatchObject({ rssMB: 160, collections: 1 })
    expect(JSON.parse(lines.at(-1) ?? "{}")).toMatchObject({ rssBeforeMB: 260, rssAfterMB: 160, msg: "idle after a burst: gave memory back to the system" })
  })

  it("waits while calls begin, even when the loop is idle (a deploy waiting on Docker)", () => {
    const { state, trim } = setup()
    state.rssMB = 200
    state.calls = 1
    expect(trim.check()).toBe(false)
    state.calls = 2
    expect(trim.check()).toBe(false)
    expect(trim.check()).toBe(true)
  })

  it("collects once per growth: memory the DTMA really holds costs one collection, not one per look", () => {
    const { state, trim } = setup()
    state.rssMB = 200
    expect(trim.check()).toBe(true)
    for (let look = 0; look < 5; look++) expect(trim.check()).toBe(false)
    state.rssMB = 215
    expect(trim.check()).toBe(false)
    state.rssMB = 216
    expect(trim.check()).toBe(true)
    expect(state.collections).toBe(2)
  })

  it("measures growth from the lowest RSS seen since, so a burst after a fall is seen whole", () => {
    const { state, trim } = setup(150)
    state.rssMB = 110
    expect(trim.check()).toBe(false)
    state.rssMB = 126
    expect(trim.check()).toBe(true)
  })
})

describe("the DTMA's node flags", () => {
  it("expose gc and keep compiled code, and that collection gives back the pages a burst left (a real node with those flags)", () => {
    const flags = dtmaNodeFlags()
    expect(flags).toEqual(expect.arrayContaining(["--expose-gc", "--no-flush-bytecode"]))
    // A burst of 32 lists alive at once, then idle: V8 keeps the pages; one memory-reducing collection gives them back.
    const script = `
      let live = []
      for (let round = 0; round < 100; round++) {
        live.push(Array.from({ length: 5000 }, (_, i) => ({ name: "tool-" + round + "-" + i, d: "x".repeat(50) + i })))
        if (live.length > 32) live.shift()
      }
      live = []
      gc()
      const before = process.memoryUsage.rss()
      gc({ type: "major", execution: "sync", flavor: "last-resort" })
      console.log(JSON.stringify({ before, after: process.memoryUsage.rss() }))
    `
    const run = spawnSync(process.execPath, [...flags, "-e", script], { encoding: "utf8" })
    expect(run.stderr).toBe("")
    const { before, after } = JSON.parse(run.stdout) as { before: number; after: number }
    expect(before - after).toBeGreaterThan(64 * MB)
  })
})
