import { Redacted } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeOperatorCheck, makeTokenCheck } from "../../src/server/auth.ts"
import { operatorFingerprintOf } from "../../src/server/caller.ts"
import { isPublicRequest, ROUTES } from "../../src/routes/routeTable.ts"
import { OTHER_TOKEN, startTestApp, TOKEN, type TestApp } from "../support/support.ts"
import { PUBLIC_ROUTES } from "../support/publicRoutes.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const UNAUTHORIZED = { error: "Unauthorized: Missing or invalid token format" }
const FORBIDDEN = { error: "Forbidden: Invalid token" }

const concrete = (path: string) => path.replace(":name", "tool-a")
const authenticated = ROUTES.filter((r) => !r.public)

describe("bearer authentication", () => {
  it("guards every route but /health and /status, as the legacy contract says, and the agent-access spec's well-known documents", () => {
    expect(ROUTES.filter((r) => r.public).map((r) => `${r.method} ${r.path}`)).toEqual(PUBLIC_ROUTES)
  })

  for (const route of authenticated) {
    it(`answers ${route.method} ${route.path} without an Authorization header with the legacy 401`, async () => {
      const res = await fetch(`${app.base}${concrete(route.path)}`, { method: route.method })
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual(UNAUTHORIZED)
    })

    it(`answers ${route.method} ${route.path} with a header that is not "Bearer <token>" with the legacy 401`, async () => {
      for (const header of [`Basic ${TOKEN}`, "Bearer", `Token ${TOKEN}`, `Bearer ${TOKEN} extra`]) {
        const res = await fetch(`${app.base}${concrete(route.path)}`, { method: route.method, headers: { authorization: header } })
        expect(res.status).toBe(401)
        expect(await res.json()).toEqual(UNAUTHORIZED)
      }
    })

    it(`answers ${route.method} ${route.path} with an unknown token with the legacy 403`, async () => {
      const res = await fetch(`${app.base}${concrete(route.path)}`, { method: route.method, headers: { authorization: "Bearer not-the-token" } })
      expect(res.status).toBe(403)
      expect(await res.json()).toEqual(FORBIDDEN)
    })
  }

  it("accepts any configured inbound token", async () => {
    for (const token of [TOKEN, OTHER_TOKEN]) {
      const res = await fetch(`${app.base}/tools/status`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
    }
  })

  it("accepts the scheme in any case", async () => {
    const res = await fetch(`${app.base}/tools/status`, { headers: { authorization: `bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
  })

  it("asks for a token before saying whether a path exists", async () => {
    const res = await fetch(`${app.base}/no/such/route`)
    expect(res.status).toBe(401)
  })

  it("never logs the Authorization header", async () => {
    await fetch(`${app.base}/tools/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    await fetch(`${app.base}/tools/status`, { headers: { authorization: "Bearer guessed-wrong" } })
    expect(app.logs.join("\n")).not.toMatch(new RegExp(`${TOKEN}|guessed-wrong`))
  })
})

describe("the token check", () => {
  const check = makeTokenCheck([Redacted.make("alpha"), Redacted.make("beta-longer-token")])

  it("accepts each configured token and nothing else", () => {
    expect(check("alpha")).toBe(true)
    expect(check("beta-longer-token")).toBe(true)
    for (const wrong of ["", "alph", "alphaa", "ALPHA", "beta", "beta-longer-token "]) expect(check(wrong)).toBe(false)
  })

  it("accepts nothing when no token is configured", () => {
    expect(makeTokenCheck([])("anything")).toBe(false)
  })

  it("names the operator of each key by that key's fingerprint, and no one for any other token", () => {
    const operatorOf = makeOperatorCheck([Redacted.make("alpha"), Redacted.make("beta-longer-token")])

    expect(operatorOf("alpha")).toEqual({ kind: "operator", fingerprint: operatorFingerprintOf("alpha") })
    expect(operatorOf("beta-longer-token")).toEqual({ kind: "operator", fingerprint: operatorFingerprintOf("beta-longer-token") })
    for (const wrong of ["", "alph", "ALPHA", "beta-longer-token "]) expect(operatorOf(wrong)).toBeNull()
  })
})

describe("which requests are public", () => {
  it("are the public routes' paths, a parameter standing for one segment, HEAD as GET, and nothing else", () => {
    for (const [method, path] of [
      ["GET", "/health"],
      ["HEAD", "/status"],
      ["GET", "/.well-known/jwks.json"],
      ["GET", "/.well-known/oauth-protected-resource/"],
      ["GET", "/.well-known/oauth-protected-resource/mcp"],
      ["HEAD", "/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp"],
      ["GET", "/.well-known/oauth-protected-resource/mcp-servers/web%20search/mcp/"],
    ] as const) {
      expect([method, path, isPublicRequest(method, path)]).toEqual([method, path, true])
    }
    for (const [method, path] of [
      ["POST", "/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp"],
      ["GET", "/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp/logs"],
      ["GET", "/.well-known/oauth-protected-resource/mcp-servers/a/b/mcp"],
      ["GET", "/.well-known/oauth-protected-resource/mcp-servers//mcp"],
      ["GET", "/.well-known/jwksXjson"],
      ["GET", "/mcp-servers/mcp-a/mcp"],
      ["GET", "/tools/status"],
      ["POST", "/agent-tokens"],
    ] as const) {
      expect([method, path, isPublicRequest(method, path)]).toEqual([method, path, false])
    }
  })
})
