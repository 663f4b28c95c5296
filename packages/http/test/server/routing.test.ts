import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { deployBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

describe("routes that do not exist", () => {
  for (const [method, path] of [
    ["POST", "/ssh/execute"],
    ["POST", "/restart"],
    ["POST", "/redeploy"],
    ["GET", "/diagnostics/logs"],
    ["POST", "/diagnostics/run"],
  ] as const) {
    it(`answers the removed legacy route ${method} ${path} with a JSON 404`, async () => {
      const res = await app.json(method, path, method === "POST" ? { command: "ls" } : undefined)
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ success: false, error: `Not found: ${method} ${path}` })
    })
  }

  it("answers an unknown route with a JSON 404 naming method and path", async () => {
    const res = await app.api("/nothing/here")
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ success: false, error: "Not found: GET /nothing/here" })
  })

  it("answers a known path with the wrong method with a JSON 405 and Allow", async () => {
    const res = await app.api("/tools", { method: "PUT" })
    expect(res.status).toBe(405)
    expect(res.headers.get("allow")).toBe("POST")
    expect(await res.json()).toEqual({ success: false, error: "Method not allowed: PUT /tools", code: "method_not_allowed" })
  })

  it("answers a name with broken percent-encoding as an unknown instance, not a 500", async () => {
    const res = await app.api("/tools/%E0%A4%A/stop", { method: "POST" })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ success: false, error: "Tool instance '%E0%A4%A' not found or not managed by this DTMA." })
  })

  it("answers HEAD /health without a token", async () => {
    expect((await fetch(`${app.base}/health`, { method: "HEAD" })).status).toBe(200)
  })

  it("answers GET on a tool instance path with 405, allowing DELETE", async () => {
    const res = await app.api("/tools/tool-a")
    expect(res.status).toBe(405)
    expect(res.headers.get("allow")).toBe("DELETE")
  })
})

describe("request bodies", () => {
  it("answers malformed JSON with a 400 that does not echo the body", async () => {
    const res = await app.api("/tools", {
      method: "POST",
      body: '{"dockerImageUrl": "x", "secret": sk-live-123',
      headers: { "content-type": "application/json" },
    })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body).toEqual({ success: false, error: expect.stringMatching(/^Malformed JSON body: /), code: "malformed_json" })
    expect(JSON.stringify(body)).not.toContain("sk-live")
  })

  it("answers a JSON body that is not an object or array as malformed", async () => {
    const res = await app.api("/tools", { method: "POST", body: '"just a string"', headers: { "content-type": "application/json" } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ success: false, error: "Malformed JSON body: the body must be a JSON object", code: "malformed_json" })
  })

  it("answers a JSON array body with the missing-fields 400", async () => {
    const res = await app.json("POST", "/tools", [deployBody()])
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/^Missing required fields/) })
  })

  it("answers a body over 1 MB with a JSON 413", async () => {
    const res = await app.json("POST", "/tools", deployBody({ padding: "x".repeat(1024 * 1024 + 1) }))
    expect(res.status).toBe(413)
    expect(await res.json()).toEqual({ success: false, error: "Request body too large: the limit is 1 MB", code: "payload_too_large" })
  })

  it("accepts a body just under 1 MB", async () => {
    const res = await app.json("POST", "/tools", deployBody({ padding: "x".repeat(1000 * 1000) }))
    expect(res.status).toBe(201)
  })

  it("answers a POST body that is not JSON with a JSON 415", async () => {
    const res = await app.api("/tools", { method: "POST", body: "dockerImageUrl=x", headers: { "content-type": "application/x-www-form-urlencoded" } })
    expect(res.status).toBe(415)
    expect(await res.json()).toEqual({ success: false, error: "Unsupported Media Type: send the body as application/json", code: "unsupported_media_type" })
  })

  it("answers a POST body without a content type with a 415", async () => {
    const res = await app.api("/tools", { method: "POST", body: new Blob(["{}"]) })
    expect(res.status).toBe(415)
  })

  it("accepts a start or stop with no body and no content type", async () => {
    await app.json("POST", "/tools", deployBody())
    expect((await app.api("/tools/tool-a/stop", { method: "POST" })).status).toBe(200)
    expect((await app.api("/tools/tool-a/start", { method: "POST", headers: { "content-type": "application/json" } })).status).toBe(200)
  })

  it("accepts a JSON content type with a charset", async () => {
    const res = await app.api("/tools", { method: "POST", body: JSON.stringify(deployBody()), headers: { "content-type": "application/json; charset=utf-8" } })
    expect(res.status).toBe(201)
  })

  it("never answers 500 to bodies of the wrong shape", async () => {
    const bodies: ReadonlyArray<unknown> = [
      null,
      {},
      { dockerImageUrl: 1, instanceNameOnToolbox: 2, accountToolInstanceId: 3 },
      deployBody({ baseConfigOverrideJson: "not an object" }),
      deployBody({ baseConfigOverrideJson: { HostConfig: { PortBindings: { "abc/tcp": [{ HostPort: "1" }] } } } }),
      deployBody({ baseConfigOverrideJson: { HostConfig: { PortBindings: { "80/tcp": [{ HostPort: "99999" }] } } } }),
      deployBody({ baseConfigOverrideJson: { Env: ["=x", "NOEQUALS"] } }),
      deployBody({ baseConfigOverrideJson: { environmentVariables: { "BAD NAME": "v" } } }),
      deployBody({ baseConfigOverrideJson: { mcpTransport: "carrier-pigeon" } }),
      deployBody({ imagePullPolicy: "sometimes" }),
      deployBody({ instanceNameOnToolbox: "a/b" }),
      deployBody({ instanceNameOnToolbox: " padded " }),
    ]
    const answered: Array<readonly [string, number]> = []
    for (const body of bodies) answered.push([JSON.stringify(body), (await app.json("POST", "/tools", body)).status])
    expect(answered).toEqual(bodies.map((body) => [JSON.stringify(body), 400]))
  })
})
