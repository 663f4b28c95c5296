import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startGrantsApp, type GrantsApp } from "../support/grantsSupport.ts"
import { arbCaseOf, expected, headersOf, MODERN, requestOf } from "../support/modernHeaders.ts"
import { TOKEN } from "../support/support.ts"

// The header check of 2026-07-28 requests as a client meets it, on a running DTMA: random headers
// and bodies, each answered with the status and code the revision specifies, or served.

let app: GrantsApp
beforeAll(async () => {
  app = await startGrantsApp()
})
afterAll(() => app.close())

/** Every method a modern client may ask but the listen, whose answer stays open. */
const SERVED = ["tools/call", "prompts/get", "resources/read", "tools/list", "resources/list", "server/discover", "completion/complete"]

describe.each(["fixture", "/mcp"])("a 2026-07-28 request to %s", (where) => {
  it("is served when its headers match its body, and otherwise gets the specified status and error code", async () => {
    const url = where === "/mcp" ? `${app.base}/mcp` : app.endpoint(where)
    await fc.assert(
      fc.asyncProperty(arbCaseOf(SERVED), async (c) => {
        const claimed = c.supported ? MODERN : "2027-01-01"
        const headers = {
          ...headersOf(c, claimed),
          authorization: `Bearer ${TOKEN}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        }
        const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(requestOf(c, claimed)) })
        const text = await res.text()
        const body = JSON.parse(
          text.startsWith("event:")
            ? text
                .split("\n")
                .filter((l) => l.startsWith("data: "))
                .at(-1)!
                .slice(6)
            : text,
        ) as {
          id: unknown
          result?: { resultType?: unknown }
          error?: { code: number }
        }
        const want = expected(c)
        if (want === "modern") {
          // Served: the request's own answer, a result or an error in the answer (a tool, prompt or resource the server lacks).
          expect([res.status, body.id]).toEqual([200, 1])
          if (body.result !== undefined) expect(body.result.resultType).toBe("complete")
          else expect(body.error?.code).not.toBe(-32020)
        } else expect([res.status, body.id, body.error?.code]).toEqual([want.status, 1, want.code])
        expect(res.headers.get("mcp-session-id")).toBeNull()
      }),
      { numRuns: 200 },
    )
  }, 60_000)
})
