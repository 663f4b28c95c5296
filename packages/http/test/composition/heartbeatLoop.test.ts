import { Effect } from "effect"
import { makeHeartbeat, type Heartbeat } from "@dtma/domain"
import { FixedHostMetrics, InMemoryContainerRuntime, RecordingControlPlane } from "@dtma/testing"
import { describe, expect, it, vi } from "vitest"
import { startHeartbeatLoop } from "../../src/composition/heartbeatLoop.ts"
import { capturingLogger } from "../support/support.ts"

const setup = () => {
  const controlPlane = new RecordingControlPlane()
  const heartbeat = makeHeartbeat({
    runtime: new InMemoryContainerRuntime(),
    controlPlane,
    metrics: new FixedHostMetrics(),
    settings: { dtmaVersion: "0.1.0", retries: 0, retryBase: "1 millis" },
  })
  return { controlPlane, heartbeat, ...capturingLogger() }
}

const parsed = (lines: ReadonlyArray<string>) => lines.map((l) => JSON.parse(l) as Record<string, unknown>)

describe("the heartbeat loop", () => {
  it("sends a heartbeat as soon as it starts", async () => {
    const { controlPlane, heartbeat, logger } = setup()
    const loop = startHeartbeatLoop({ heartbeat, logger, interval: "1 hour" })
    await vi.waitFor(() => expect(controlPlane.received).toHaveLength(1))
    await loop.stop()
  })

  it("sends again every interval", async () => {
    const { controlPlane, heartbeat, logger } = setup()
    const loop = startHeartbeatLoop({ heartbeat, logger, interval: "10 millis" })
    await vi.waitFor(() => expect(controlPlane.received.length).toBeGreaterThanOrEqual(3))
    await loop.stop()
  })

  it("logs a failed heartbeat and goes on", async () => {
    const { controlPlane, heartbeat, logger, lines } = setup()
    controlPlane.failNext("rejected")
    controlPlane.failNext("unavailable")
    const loop = startHeartbeatLoop({ heartbeat, logger, interval: "10 millis" })
    await vi.waitFor(() => expect(controlPlane.received.length).toBeGreaterThanOrEqual(1))
    await loop.stop()
    const failures = parsed(lines).filter((l) => l.msg === "heartbeat failed")
    expect(failures.map((l) => l.failure)).toEqual(["ControlPlaneRejected", "ControlPlaneUnavailable"])
    expect(failures.every((l) => l.level === "warn")).toBe(true)
  })

  it("survives a heartbeat that dies, logging it as a bug", async () => {
    const { logger, lines } = setup()
    let attempts = 0
    const dying: Heartbeat = {
      report: () => Effect.die(new Error("unused")),
      send: () => Effect.sync(() => attempts++).pipe(Effect.andThen(Effect.die(new Error("boom")))),
    }
    const loop = startHeartbeatLoop({ heartbeat: dying, logger, interval: "10 millis" })
    await vi.waitFor(() => expect(attempts).toBeGreaterThanOrEqual(2))
    await loop.stop()
    expect(parsed(lines).some((l) => l.msg === "heartbeat died (a bug)" && l.level === "error")).toBe(true)
  })

  it("sends nothing more once stopped", async () => {
    const { controlPlane, heartbeat, logger } = setup()
    const loop = startHeartbeatLoop({ heartbeat, logger, interval: "10 millis" })
    await vi.waitFor(() => expect(controlPlane.received.length).toBeGreaterThanOrEqual(1))
    await loop.stop()
    const attempts = controlPlane.attempts
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(controlPlane.attempts).toBe(attempts)
  })
})
