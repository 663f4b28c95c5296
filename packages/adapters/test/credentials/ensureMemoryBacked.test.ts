import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { failureOf, run } from "@dtma/testing"
import { ensureMemoryBacked, filesystemOf } from "../../src/credentials/ensureMemoryBacked.ts"
import { removeRoot, shmRoot } from "./hostView.ts"

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const diskDir = async (): Promise<string> => {
  const dir = await mkdtemp("/var/tmp/dtma-memory-check-")
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe("ensureMemoryBacked", () => {
  it("accepts a tmpfs root as it is", async () => {
    const root = await shmRoot()
    cleanups.push(() => removeRoot(root))
    expect(await run(ensureMemoryBacked({ root, allowDisk: false }))).toEqual({ root, filesystem: "tmpfs", mounted: false, warning: null })
  })

  it("refuses a disk-backed root it may not mount on as not_memory_backed, naming the directory and DTMA_CREDENTIALS_ALLOW_DISK", async () => {
    const root = await diskDir()
    const error = await failureOf(ensureMemoryBacked({ root, allowDisk: false, mount: false }))
    expect(error).toMatchObject({ _tag: "CredentialDeliveryFailed", reason: "not_memory_backed" })
    expect(error.message).toContain(root)
    expect(error.message).toContain("ext4")
    expect(error.message).toContain("DTMA_CREDENTIALS_ALLOW_DISK")
  })

  it("accepts a disk-backed root with a warning when disk is allowed", async () => {
    const root = await diskDir()
    const backing = await run(ensureMemoryBacked({ root, allowDisk: true, mount: false }))
    expect(backing).toMatchObject({ root, filesystem: "ext4", mounted: false })
    expect(backing.warning).toContain("DTMA_CREDENTIALS_ALLOW_DISK")
  })

  it("creates a missing root, 0700", async () => {
    const parent = await shmRoot()
    cleanups.push(() => removeRoot(parent))
    await run(ensureMemoryBacked({ root: `${parent}/a/b`, allowDisk: false }))
    expect(await filesystemOf(`${parent}/a/b`)).toEqual({ name: "tmpfs", memory: true })
  })

  it.runIf(process.getuid?.() === 0)("mounts its own tmpfs (0700, 64 MB, nosuid, nodev, noexec) on a disk-backed root when running as root", async () => {
    const root = await diskDir()
    const backing = await run(ensureMemoryBacked({ root, allowDisk: false }))
    cleanups.push(async () => void execFileSync("umount", [root]))
    expect(backing).toEqual({ root, filesystem: "tmpfs", mounted: true, warning: null })
    expect(await filesystemOf(root)).toEqual({ name: "tmpfs", memory: true })
    const line = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .find((l) => l.split(" ")[1] === root)
    expect(line?.split(" ")[3]?.split(",")).toEqual(expect.arrayContaining(["nosuid", "nodev", "noexec", "size=65536k", "mode=700"]))
    expect(await run(ensureMemoryBacked({ root, allowDisk: false }))).toMatchObject({ mounted: false, filesystem: "tmpfs" })
  })
})
