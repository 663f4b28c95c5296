import { describe, expect, it } from "vitest"
import { z } from "zod"
import { openApiDocument } from "../../src/responses/openapi.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { deployToolBody } from "../../src/requests/schemas.ts"
import { issueAgentTokenBody } from "../../src/requests/agentAccessSchemas.ts"
import { startTestApp } from "../support/support.ts"

describe("the OpenAPI document", () => {
  const doc = openApiDocument()

  it("carries, for POST /tools, exactly the JSON Schema of the schema the handler validates with", () => {
    expect(ROUTES.find((r) => r.id === "deployTool")?.body).toBe(deployToolBody)
    expect(doc.paths["/tools"]?.post?.requestBody?.content["application/json"].schema).toEqual(z.toJSONSchema(deployToolBody))
  })

  it("carries, for POST /agent-tokens, the JSON Schema the handler validates with: no other key, the grant items' fields", () => {
    expect(ROUTES.find((r) => r.id === "issueAgentToken")?.body).toBe(issueAgentTokenBody)
    const schema = doc.paths["/agent-tokens"]?.post?.requestBody?.content["application/json"].schema
    expect(schema).toEqual(z.toJSONSchema(issueAgentTokenBody))
    expect(schema).toMatchObject({
      additionalProperties: false,
      required: ["agentId", "grants"],
      properties: { grants: { type: "array", items: { additionalProperties: false, properties: { server: {}, tools: {}, resources: {} } } } },
    })
  })

  it("describes the agent-access routes: the operator's behind the bearer token, the well-known documents public", () => {
    const security = (method: string, path: string) => doc.paths[path]?.[method]?.security
    for (const [method, path] of [
      ["post", "/agent-tokens"],
      ["post", "/agent-tokens/keys/rotate"],
      ["post", "/agents/{agentId}/revoke"],
      ["delete", "/agent-tokens/{tokenId}"],
    ] as const) {
      expect([path, security(method, path)]).toEqual([path, [{ bearer: [] }]])
    }
    for (const path of [
      "/.well-known/jwks.json",
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource/mcp-servers/{name}/mcp",
    ]) {
      expect([path, security("get", path)]).toEqual([path, []])
    }
    expect(doc.paths["/agents/{agentId}/revoke"]?.post?.parameters).toEqual([
      { name: "agentId", in: "path", required: true, description: "The agent id (its tokens' sub), URL-encoded once", schema: { type: "string" } },
    ])
  })

  it("describes every route of the table, with its statuses, and no other", () => {
    const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    expect(described.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`).sort())
    for (const route of ROUTES) {
      const op = doc.paths[route.path.replace(/:(\w+)/g, "{$1}")]?.[route.method.toLowerCase()]
      expect(Object.keys(op?.responses ?? {})).toEqual(Object.keys(route.responses))
      expect(op?.security).toEqual(route.public ? [] : [{ bearer: [] }])
    }
  })

  it("is OpenAPI 3.1, served to authenticated callers only", async () => {
    const app = await startTestApp()
    try {
      expect((await fetch(`${app.base}/openapi.json`)).status).toBe(401)
      const res = await app.api("/openapi.json")
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(JSON.parse(JSON.stringify(doc)))
      expect(doc.openapi).toBe("3.1.0")
    } finally {
      await app.close()
    }
  })
})
