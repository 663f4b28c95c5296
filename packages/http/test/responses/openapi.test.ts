import { describe, expect, it } from "vitest"
import { z } from "zod"
import { openApiDocument } from "../../src/responses/openapi.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { deployToolBody } from "../../src/requests/schemas.ts"
import { startTestApp } from "../support/support.ts"

describe("the OpenAPI document", () => {
  const doc = openApiDocument()

  it("carries, for POST /tools, exactly the JSON Schema of the schema the handler validates with", () => {
    expect(ROUTES.find((r) => r.id === "deployTool")?.body).toBe(deployToolBody)
    expect(doc.paths["/tools"]?.post?.requestBody?.content["application/json"].schema).toEqual(z.toJSONSchema(deployToolBody))
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
