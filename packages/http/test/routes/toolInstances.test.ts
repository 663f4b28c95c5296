import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { deployBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const deploy = (overrides: Record<string, unknown> = {}) => app.json("POST", "/tools", deployBody(overrides))

const notFound = (name: string) => ({ success: false, error: `Tool instance '${name}' not found or not managed by this DTMA.` })

describe("DELETE /tools/:name, POST /tools/:name/start and /stop", () => {
  it("removes a managed instance", async () => {
    await deploy()
    const res = await app.api("/tools/tool-a", { method: "DELETE" })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ success: true, message: "Tool instance 'tool-a' removed successfully." })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("stops a running instance, and says the same when it is already stopped", async () => {
    await deploy()
    for (let i = 0; i < 2; i++) {
      const res = await app.api("/tools/tool-a/stop", { method: "POST" })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        success: true,
        message: "Tool instance 'tool-a' stopped successfully.",
        data: { state: { Status: "exited", Running: false } },
      })
    }
  })

  it("starts a stopped instance", async () => {
    await deploy()
    await app.api("/tools/tool-a/stop", { method: "POST" })
    const res = await app.api("/tools/tool-a/start", { method: "POST" })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      success: true,
      message: "Tool instance 'tool-a' started successfully.",
      data: { state: { Status: "running", Running: true } },
    })
  })

  it("says a running instance is already running", async () => {
    await deploy()
    const res = await app.api("/tools/tool-a/start", { method: "POST" })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      success: true,
      message: "Tool instance 'tool-a' is already running.",
      data: { state: { Status: "running", Running: true } },
    })
  })

  for (const [method, suffix] of [
    ["DELETE", ""],
    ["POST", "/start"],
    ["POST", "/stop"],
  ] as const) {
    it(`answers ${method} /tools/:name${suffix} for an unmanaged name with the legacy 404`, async () => {
      const res = await app.api(`/tools/ghost${suffix}`, { method })
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual(notFound("ghost"))
    })
  }

  it("answers the start of an instance whose process cannot run with 502 in the other-failure shape", async () => {
    await deploy()
    await app.api("/tools/tool-a/stop", { method: "POST" })
    app.runtime.failNextStart("no such file")
    const res = await app.api("/tools/tool-a/start", { method: "POST" })
    expect(res.status).toBe(502)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to start tool instance 'tool-a'.",
      error: "The container runtime could not start: no such file",
    })
  })

  it("answers 503 in the other-failure shape when the runtime is down", async () => {
    app.runtime.daemonDown = true
    const res = await app.api("/tools/tool-a/stop", { method: "POST" })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ success: false, message: "Failed to stop tool instance 'tool-a'." })
  })
})

describe("instance names in paths", () => {
  it("finds a name with spaces whether the path carries it encoded or as typed", async () => {
    await deploy({ instanceNameOnToolbox: "a b" })
    expect((await app.api("/tools/a%20b/stop", { method: "POST" })).status).toBe(200)
    // fetch encodes the space itself: this is what a caller passing the raw name sends.
    expect((await app.api("/tools/a b/start", { method: "POST" })).status).toBe(200)
    const res = await app.api(`/tools/${encodeURIComponent("a b")}`, { method: "DELETE" })
    expect(await res.json()).toEqual({ success: true, message: "Tool instance 'a b' removed successfully." })
  })

  it("decodes a name exactly once, so a double-encoded name means the literal text", async () => {
    await deploy({ instanceNameOnToolbox: "a b" })
    await deploy({ instanceNameOnToolbox: "x%20y", accountToolInstanceId: "ati-2" })
    const literal = await app.api("/tools/x%2520y", { method: "DELETE" })
    expect(await literal.json()).toEqual({ success: true, message: "Tool instance 'x%20y' removed successfully." })
    const twice = await app.api("/tools/a%2520b", { method: "DELETE" })
    expect(twice.status).toBe(404)
    expect(await twice.json()).toEqual({ success: false, error: "Tool instance 'a%20b' not found or not managed by this DTMA." })
  })

  it("finds a name with characters callers leave unencoded", async () => {
    await deploy({ instanceNameOnToolbox: "tool:a+b" })
    expect((await app.api("/tools/tool:a+b/stop", { method: "POST" })).status).toBe(200)
    expect((await app.api(`/tools/${encodeURIComponent("tool:a+b")}`, { method: "DELETE" })).status).toBe(200)
  })
})
