import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { accessTo, type AgentIdentity, type Grants, type ServerRef } from "@dtma/domain"
import { arbGrants, arbServerRef } from "@dtma/testing"
import { EVERYTHING, MAX_SERVERS_PER_GRANTS, requestAccessOf } from "../../src/mcpProxy/requestAccess.ts"

const agentWith = (grants: Grants): AgentIdentity => ({
  kind: "agent",
  sub: "agent-1",
  jti: "tok-1",
  issuer: "https://issuer.fake",
  issuedAt: 0,
  expiresAt: 3_600_000,
  grants,
})

/** Servers beyond the memo's bound, some of them named like the grants' own. */
const manyServers = (n: number): ReadonlyArray<ServerRef> =>
  Array.from({ length: n }, (_, i) => ({ name: `server-${i}`, accountToolInstanceId: i % 3 === 0 ? null : `ati-${i % 7}` }))

describe("requestAccessOf", () => {
  it("answers an agent's every request with what its grants allow on the server, asked once or many times, beyond the memo's bound", () => {
    fc.assert(
      fc.property(arbGrants, fc.array(arbServerRef, { maxLength: 40 }), (grants, refs) => {
        const caller = agentWith(grants)
        const asked = [...refs, ...manyServers(MAX_SERVERS_PER_GRANTS + 20), ...refs]
        for (const round of [1, 2]) for (const ref of asked) expect(requestAccessOf(caller, ref), `round ${round}`).toEqual(accessTo(grants, ref))
      }),
      { numRuns: 50 },
    )
  })

  it("works out a server's access once per token's grants: the same answer object on every request", () => {
    const grants: Grants = [{ target: { server: "memory" }, tools: ["read_*"], prompts: [], resources: true }]
    const caller = agentWith(grants)
    const ref = { name: "memory", accountToolInstanceId: null }
    expect(requestAccessOf(caller, ref)).toBe(requestAccessOf(caller, ref))
    expect(requestAccessOf(caller, { name: "memory", accountToolInstanceId: "ati-1" })).toEqual(requestAccessOf(caller, ref))
  })

  it("lets an operator reach everything on any server", () => {
    expect(requestAccessOf({ kind: "operator", fingerprint: "0123456789ab" }, { name: "anything", accountToolInstanceId: null })).toBe(EVERYTHING)
  })
})
