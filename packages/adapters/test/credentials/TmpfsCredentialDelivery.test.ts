import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { mkdtemp } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { OAuthCredential } from "@dtma/domain"
import { failureOf, run } from "@dtma/testing"
import { deliveryPathsOf, instanceDirOf } from "../../src/credentials/deliveryPaths.ts"
import { makeTmpfsCredentialDelivery, type TmpfsCredentialDelivery } from "../../src/credentials/TmpfsCredentialDelivery.ts"
import { lineFrom, startDtmaDelivering, startReader } from "./childProcesses.ts"
import { askSocket, removeRoot, shmRoot } from "./hostView.ts"

const owner = { uid: 1234, gid: 5678 }
const credential = (connectionId: string, provider: string, token: string): OAuthCredential => ({
  connectionId,
  provider,
  accessToken: Redacted.make(token),
  tokenType: "Bearer",
  expiresAt: null,
  scopes: ["repo"],
})
const gh = credential("gh-1", "github", "tok-secret-value-1")

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A delivery on a fresh root (on /dev/shm unless given), closed and removed after the test. */
const deliveryOn = async (root?: string, allowDisk = false): Promise<{ root: string; delivery: TmpfsCredentialDelivery; reported: Array<string> }> => {
  const dir = root ?? (await shmRoot())
  const reported: Array<string> = []
  const delivery = makeTmpfsCredentialDelivery({ root: dir, allowDisk, onError: (p) => reported.push(`${p.name}: ${p.detail}`) })
  cleanups.push(async () => {
    await Effect.runPromise(delivery.close())
    await removeRoot(dir)
  })
  return { root: dir, delivery, reported }
}

const modeOf = (path: string) => statSync(path).mode & 0o777
const ownerOf = (path: string) => ({ uid: statSync(path).uid, gid: statSync(path).gid })

describe("TmpfsCredentialDelivery on the host", () => {
  it("makes directories 0700 and files 0400, all owned by the container's user, and mounts the instance's directory", async () => {
    const { root, delivery } = await deliveryOn()
    const mounts = await run(delivery.provision({ name: "my server", method: "mounted_secrets", owner, credentials: [gh] }))
    const paths = deliveryPathsOf(root, "my server")
    expect(mounts).toEqual([{ hostPath: paths.secrets, containerPath: "/run/secrets/dtma" }])
    for (const dir of ["", "github", "connections", "connections/gh-1"]) {
      expect([dir, modeOf(join(paths.secrets, dir)), ownerOf(join(paths.secrets, dir))]).toEqual([dir, 0o700, owner])
    }
    for (const file of ["github/access_token", "github/token.json", "connections/gh-1/access_token", "connections/gh-1/token.json"]) {
      expect([file, modeOf(join(paths.secrets, file)), ownerOf(join(paths.secrets, file))]).toEqual([file, 0o400, owner])
    }
    expect(readFileSync(join(paths.secrets, "github/access_token"), "utf8")).toBe("tok-secret-value-1")
  })

  it("makes the socket's directory 0700 and the socket 0600, owned by the container's user", async () => {
    const { root, delivery } = await deliveryOn()
    const mounts = await run(delivery.provision({ name: "my server", method: "runtime_api", owner, credentials: [gh] }))
    const paths = deliveryPathsOf(root, "my server")
    expect(mounts).toEqual([{ hostPath: paths.sockets, containerPath: "/run/dtma" }])
    expect([modeOf(paths.sockets), ownerOf(paths.sockets)]).toEqual([0o700, owner])
    expect([statSync(paths.socket).isSocket(), modeOf(paths.socket), ownerOf(paths.socket)]).toEqual([true, 0o600, owner])
  })

  it("keeps the instance's name out of what is mounted, and no token in its index", async () => {
    const { root, delivery } = await deliveryOn()
    await run(delivery.provision({ name: "my server", method: "mounted_secrets", owner, credentials: [gh] }))
    const index = readFileSync(join(root, "index", instanceDirOf("my server")), "utf8")
    expect(JSON.parse(index)).toEqual({ name: "my server" })
    expect(readdirSync(deliveryPathsOf(root, "my server").secrets).sort()).toEqual(["connections", "github"])
  })

  it("replaces a token file atomically: a reader in another process never sees a torn or empty one", async () => {
    const { root, delivery } = await deliveryOn()
    const big = (i: number) => credential("gh-1", "github", `tok-${i}-${"x".repeat(50_000)}`)
    await run(delivery.provision({ name: "busy", method: "mounted_secrets", owner, credentials: [big(0)] }))
    const reader = startReader(join(deliveryPathsOf(root, "busy").secrets, "github/access_token"))
    let distinct = 0
    reader.stdout?.on("data", (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/distinct (\d+)/g)) distinct = Math.max(distinct, Number(match[1]))
    })
    await lineFrom(reader, /distinct 1/)
    // 300 publishes at least: with a plain truncate-and-write, this many caught thousands of torn reads.
    const overlapped = () => distinct >= 5
    for (let i = 1; i <= 2000 && (i <= 300 || !overlapped()); i++) await run(delivery.publish("busy", [big(i)]))
    const done = lineFrom(reader, /^done /)
    reader.stdin?.end()
    const result = JSON.parse((await done).slice("done ".length)) as { reads: number; torn: number; distinct: number }
    expect(result.torn).toBe(0)
    expect(result.distinct).toBeGreaterThanOrEqual(2)
    expect(readdirSync(join(deliveryPathsOf(root, "busy").secrets, "github"))).toEqual(["access_token", "token.json"])
  }, 60_000)

  it("takes over after a DTMA restart: lists what it left, re-provisions over its stale socket in the same directories", async () => {
    const { root, delivery } = await deliveryOn()
    const previous = await startDtmaDelivering(root)
    previous.kill("SIGKILL")
    await new Promise((resolve) => previous.once("exit", resolve))
    const socketPaths = deliveryPathsOf(root, "socket survivor")
    const filePaths = deliveryPathsOf(root, "files survivor")
    await expect(askSocket(socketPaths.socket, "/v1/credentials")).rejects.toMatchObject({ code: "ECONNREFUSED" })
    const inodes = [statSync(socketPaths.sockets).ino, statSync(filePaths.secrets).ino]
    expect(await run(delivery.provisioned())).toEqual(["files survivor", "socket survivor"])

    const renewed = credential("gh-1", "github", "tok-after-restart")
    await run(delivery.provision({ name: "socket survivor", method: "runtime_api", owner, credentials: [renewed] }))
    await run(delivery.provision({ name: "files survivor", method: "mounted_secrets", owner, credentials: [renewed] }))
    expect([statSync(socketPaths.sockets).ino, statSync(filePaths.secrets).ino]).toEqual(inodes)
    expect((await askSocket(socketPaths.socket, "/v1/credentials/github")).body).toMatchObject({ access_token: "tok-after-restart" })
    expect(readFileSync(join(filePaths.secrets, "github/access_token"), "utf8")).toBe("tok-after-restart")
  }, 30_000)

  it("wipes what a previous DTMA left, by name, without having provisioned it", async () => {
    const { root, delivery } = await deliveryOn()
    const previous = await startDtmaDelivering(root)
    previous.kill("SIGKILL")
    await new Promise((resolve) => previous.once("exit", resolve))
    for (const name of await run(delivery.provisioned())) await run(delivery.wipe(name))
    expect(await run(delivery.provisioned())).toEqual([])
    for (const dir of ["secrets", "sockets", "index"]) expect(readdirSync(join(root, dir))).toEqual([])
  }, 30_000)
})

describe("TmpfsCredentialDelivery's failures", () => {
  it("leaves nothing behind when the socket cannot be made mid-way", async () => {
    const base = await shmRoot()
    const { root, delivery, reported } = await deliveryOn(join(base, "d".repeat(60)))
    cleanups.push(() => removeRoot(base))
    const error = await failureOf(delivery.provision({ name: "long", method: "runtime_api", owner, credentials: [gh] }))
    expect(error).toMatchObject({ reason: "io_failed", name: "long" })
    expect(error.message).toContain("ENAMETOOLONG")
    for (const dir of ["secrets", "sockets", "index"]) expect(existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : []).toEqual([])
    expect(await run(delivery.provisioned())).toEqual([])
    expect(reported).toEqual([])
  })

  it("leaves nothing behind when the files cannot be written mid-way", async () => {
    const { root, delivery } = await deliveryOn()
    writeFileSync(join(root, "secrets"), "in the way")
    const error = await failureOf(delivery.provision({ name: "blocked", method: "mounted_secrets", owner, credentials: [gh] }))
    expect(error).toMatchObject({ reason: "io_failed", name: "blocked" })
    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain("tok-secret-value-1")
    expect(readdirSync(join(root, "index"))).toEqual([])
    expect(await run(delivery.provisioned())).toEqual([])
    expect(await failureOf(delivery.publish("blocked", [gh]))).toMatchObject({ reason: "not_provisioned" })
  })

  it("refuses a disk-backed root as not_memory_backed, naming it and the escape hatch, and writes nothing there", async () => {
    const disk = await mkdtemp("/var/tmp/dtma-delivery-disk-")
    const { delivery } = await deliveryOn(disk)
    const error = await failureOf(delivery.provision({ name: "on disk", method: "mounted_secrets", owner, credentials: [gh] }))
    expect(error).toMatchObject({ reason: "not_memory_backed", name: "on disk" })
    expect(error.message).toContain(disk)
    expect(error.message).toContain("DTMA_CREDENTIALS_ALLOW_DISK")
    expect(readdirSync(disk)).toEqual([])
  })

  it("delivers on a disk-backed root when disk is allowed", async () => {
    const disk = await mkdtemp("/var/tmp/dtma-delivery-disk-")
    const { delivery } = await deliveryOn(disk, true)
    await run(delivery.provision({ name: "on disk", method: "mounted_secrets", owner, credentials: [gh] }))
    expect(readFileSync(join(deliveryPathsOf(disk, "on disk").secrets, "github/access_token"), "utf8")).toBe("tok-secret-value-1")
  })
})
