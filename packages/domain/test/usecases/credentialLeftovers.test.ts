import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { wipeLeftoverCredentials } from "../../src/index.ts"
import { InMemoryCredentialDelivery, run } from "@dtma/testing"

describe("credentials a previous DTMA left behind", () => {
  it("are wiped for servers that are gone, and only for them", async () => {
    const delivery = new InMemoryCredentialDelivery()
    const credentials = [{ connectionId: "c1", provider: "github", accessToken: Redacted.make("t"), tokenType: "Bearer", expiresAt: null, scopes: [] }]
    for (const name of ["kept", "gone-1", "gone-2"])
      await run(delivery.provision({ name, method: "mounted_secrets", owner: { uid: 1000, gid: 1000 }, credentials }))
    const wiped = await run(wipeLeftoverCredentials(delivery, (name) => name === "kept"))
    expect([...wiped].sort()).toEqual(["gone-1", "gone-2"])
    expect(await run(delivery.provisioned())).toEqual(["kept"])
  })
})
