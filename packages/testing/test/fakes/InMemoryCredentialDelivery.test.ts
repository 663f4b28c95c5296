import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { OAuthCredential } from "@dtma/domain"
import { credentialDeliveryContract, failureOf, InMemoryCredentialDelivery, run } from "../../src/index.ts"

credentialDeliveryContract("InMemoryCredentialDelivery", async () => {
  const delivery = new InMemoryCredentialDelivery()
  return { delivery, see: async (name) => delivery.read(name) }
})

const owner = { uid: 1000, gid: 1000 }
const gh: OAuthCredential = { connectionId: "gh-1", provider: "github", accessToken: Redacted.make("tok-1"), tokenType: "Bearer", expiresAt: null, scopes: [] }

describe("InMemoryCredentialDelivery's faults", () => {
  it("refuses a disk-backed root as not_memory_backed unless disk is allowed", async () => {
    const refusing = new InMemoryCredentialDelivery({ memoryBacked: false })
    expect(await failureOf(refusing.provision({ name: "a", method: "mounted_secrets", owner, credentials: [gh] }))).toMatchObject({
      reason: "not_memory_backed",
    })
    const allowing = new InMemoryCredentialDelivery({ memoryBacked: false, allowDisk: true })
    expect(await run(allowing.provision({ name: "a", method: "mounted_secrets", owner, credentials: [gh] }))).toHaveLength(1)
  })

  it("fails injected provisions leaving nothing behind, then delivers again", async () => {
    const delivery = new InMemoryCredentialDelivery()
    await run(delivery.provision({ name: "a", method: "runtime_api", owner, credentials: [gh] }))
    delivery.failNext("io_failed")
    expect(await failureOf(delivery.provision({ name: "a", method: "runtime_api", owner, credentials: [gh] }))).toMatchObject({ reason: "io_failed" })
    expect(await run(delivery.provisioned())).toEqual([])
    expect(delivery.read("a")).toEqual({ files: {}, socket: null })
    await run(delivery.provision({ name: "a", method: "mounted_secrets", owner, credentials: [gh] }))
    expect(delivery.deliveredTo("a")).toMatchObject({ method: "mounted_secrets", owner })
    expect(delivery.calls.map((c) => c.op)).toEqual(["provision", "provision", "provision"])
  })
})
