import { Redacted } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { deployBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const envOf = async (res: Response) => {
  const id = ((await res.json()) as { data: { container_id: string } }).data.container_id
  return Object.fromEntries(app.runtime.specOf(id)?.env.map((e) => [e.name, Redacted.value(e.value)]) ?? [])
}

describe("a standard tool's secrets from the backend (legacy get-agent-tool-credentials)", () => {
  it("injects them as environment variables when the tool is deployed for an agent, the caller's Env winning", async () => {
    app.credentialSource.setToolSecrets("ati-1", { API_KEY: "from-backend", REGION: "eu", UNSET: null })
    const res = await app.json("POST", "/tools", deployBody({ agentId: "agent-1", baseConfigOverrideJson: { Env: ["REGION=us"] } }))
    expect(res.status).toBe(201)
    expect(await envOf(res)).toEqual({ REGION: "us", API_KEY: "from-backend" })
  })

  it("asks nothing of the backend for a tool deployed without an agent", async () => {
    const res = await app.json("POST", "/tools", deployBody())
    expect(res.status).toBe(201)
    expect(await envOf(res)).toEqual({})
  })

  it("answers a tool the backend does not know with 502, deploying nothing", async () => {
    const res = await app.json("POST", "/tools", deployBody({ agentId: "agent-1" }))
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ success: false, message: "Failed to deploy tool 'tool-a'.", code: "tool_secrets_not_found" })
    expect(app.runtime.containerCount()).toBe(0)
  })
})
