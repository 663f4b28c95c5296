import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { describe, expect, it } from "vitest"
import { echoLoop } from "./mcpClient.ts"

describe("a loop of echo calls (Docker tests' support)", () => {
  it("lets timers run while every call fails at once (a closed client), so a loop a failed test left running cannot starve the clean-up", async () => {
    const closed = { callTool: () => Promise.reject(new Error("Not connected")) } as unknown as Client
    const loop = echoLoop(closed, "spinning")
    const timerRan = await Promise.race([new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 20)), new Promise<boolean>(() => undefined)])
    const tally = await loop.stop()
    expect(timerRan).toBe(true)
    expect(tally.failed).toBeGreaterThan(0)
    expect(tally.errors[0]).toBe("Error: Not connected")
  })
})
