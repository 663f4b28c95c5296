import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { failureOf, revocationStoreContract, run } from "@dtma/testing"
import { makeFileRevocationStore, REVOCATIONS_FILE } from "../../src/access/FileRevocationStore.ts"

const freshDir = () => mkdtemp(join(tmpdir(), "dtma-revocations-"))

revocationStoreContract("FileRevocationStore", async () => {
  const root = await freshDir()
  const path = join(root, "state", REVOCATIONS_FILE)
  return {
    store: makeFileRevocationStore({ path }),
    reopen: () => makeFileRevocationStore({ path }),
    corrupt: () => writeFile(path, '{"version":1,"agents":"nope"'),
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})

describe("FileRevocationStore", () => {
  it("keeps the file 0600 in a 0700 directory, and tightens a state directory others could enter", async () => {
    const root = await freshDir()
    const state = join(root, "state")
    await mkdir(state, { mode: 0o755 })
    const path = join(state, REVOCATIONS_FILE)
    await run(makeFileRevocationStore({ path }).save({ agents: [{ agentId: "a", revokedAt: 5 }], tokens: [] }))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(state)).mode & 0o777).toBe(0o700)
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({ version: 1, agents: [{ agentId: "a", revokedAt: 5 }], tokens: [] })
    await rm(root, { recursive: true, force: true })
  })

  it.each([
    ["not JSON", "revoked: a"],
    ["another version", '{"version":2,"agents":[],"tokens":[]}'],
    ["an entry without a time", '{"version":1,"agents":[{"agentId":"a"}],"tokens":[]}'],
    ["a list", "[]"],
  ])("fails corrupt on a file that is %s, naming the file and not its content", async (_, text) => {
    const root = await freshDir()
    const path = join(root, REVOCATIONS_FILE)
    await writeFile(path, text)
    const error = await failureOf(makeFileRevocationStore({ path }).load())
    expect(error).toMatchObject({ reason: "corrupt" })
    expect(error.message).toContain(path)
    expect(error.message).not.toContain(text)
    await rm(root, { recursive: true, force: true })
  })

  it("fails unwritable with the error code when the file cannot be replaced", async () => {
    const root = await freshDir()
    const path = join(root, REVOCATIONS_FILE)
    await mkdir(path)
    const error = await failureOf(makeFileRevocationStore({ path }).save({ agents: [], tokens: [] }))
    expect(error).toMatchObject({ reason: "unwritable", detail: expect.stringMatching(/^E[A-Z]+/) })
    expect(await failureOf(makeFileRevocationStore({ path }).load())).toMatchObject({ reason: "unreadable" })
    await rm(root, { recursive: true, force: true })
  })
})
