import { describe, expect, it } from "vitest"
import { failureOf, InMemoryRevocationStore, revocationStoreContract, run } from "../../src/index.ts"

revocationStoreContract("InMemoryRevocationStore", async () => {
  const store = new InMemoryRevocationStore()
  return { store, reopen: () => store.reopen(), corrupt: async () => store.corrupt() }
})

describe("InMemoryRevocationStore", () => {
  it("fails a save on demand as unwritable, keeping what it had", async () => {
    const store = new InMemoryRevocationStore()
    const before = { agents: [{ agentId: "a", revokedAt: 1 }], tokens: [] }
    await run(store.save(before))
    store.failNextSave()
    expect(await failureOf(store.save({ agents: [], tokens: [] }))).toMatchObject({ reason: "unwritable" })
    expect(await run(store.reopen().load())).toEqual(before)
  })
})
