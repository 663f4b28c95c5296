import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { isRouteMissing } from "../../src/agentopia/AgentopiaCredentialSource.ts"
import { reasonOfStatus } from "../../src/agentopia/credentialFailure.ts"
import { expiryOf, parseToolSecrets } from "../../src/agentopia/credentialsBody.ts"

describe("the backend's credential bodies", () => {
  it.each([
    ["2026-01-01T00:00:00Z", Date.UTC(2026, 0, 1)],
    ["2026-01-01T00:00:00.000Z", Date.UTC(2026, 0, 1)],
    ["2026-01-01T02:00:00+02:00", Date.UTC(2026, 0, 1)],
    ["2026-01-01T00:00:00.123456+00:00", Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
    [null, null],
    ["2026-01-01T00:00:00", undefined],
    ["2026-01-01", undefined],
    ["2026-13-45T00:00:00Z", undefined],
    [1767225600000, undefined],
  ])("reads the expiry %j as %j", (input, expected) => {
    expect(expiryOf(input)).toBe(expected)
  })

  it.each([
    [401, "unauthorized"],
    [403, "forbidden"],
    [404, "not_found"],
    [409, "reauthorization_required"],
    [408, "unavailable"],
    [429, "unavailable"],
    [500, "unavailable"],
    [599, "unavailable"],
    [400, "invalid_response"],
    [422, "invalid_response"],
    [302, "invalid_response"],
  ])("reads the status %i as %s", (status, reason) => {
    expect(reasonOfStatus(status)).toBe(reason)
  })

  it.each([
    [404, '{"error":"Tool not found"}', false],
    [404, '{"code":"NOT_FOUND","message":"Requested function was not found"}', true],
    [404, "<html>Not Found</html>", true],
    [404, "", true],
    [401, "", false],
    [200, "", false],
  ])("tells a missing route from a refusal: %i %j → %s", (status, text, missing) => {
    expect(isRouteMissing({ status, statusText: "", text })).toBe(missing)
  })

  it("keeps secrets in the backend's order, skipping nulls", () => {
    const parsed = parseToolSecrets('{"secrets":{"B":"2","A":null,"C":"3"}}')
    expect(parsed.ok && parsed.value.map((e) => [e.name, Redacted.value(e.value)])).toEqual([
      ["B", "2"],
      ["C", "3"],
    ])
  })
})
