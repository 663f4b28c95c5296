import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Dockerode from "dockerode"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { failureOf } from "@dtma/testing"
import { dockerApiOf } from "../../src/docker/DockerApi.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"

/** A scripted Docker daemon on a Unix socket: answers with `reply`, or never when it returns nothing. */
const scriptedDaemon = async (reply: (req: IncomingMessage, res: ServerResponse) => boolean) => {
  const dir = mkdtempSync(join(tmpdir(), "dtma-daemon-"))
  const socketPath = join(dir, "docker.sock")
  const state = { urls: new Array<string>(), closedUnanswered: 0 }
  const server: Server = createServer((req, res) => {
    state.urls.push(req.url ?? "")
    if (!reply(req, res)) res.on("close", () => (state.closedUnanswered += 1))
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  const close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  }
  return { socketPath, state, close }
}

describe("the DockerApi over dockerode, against a scripted daemon", () => {
  let daemon: Awaited<ReturnType<typeof scriptedDaemon>>
  let silent = true
  beforeEach(async () => {
    silent = true
    daemon = await scriptedDaemon((_req, res) => {
      if (silent) return false
      res.writeHead(200, { "content-type": "application/json" })
      res.end('{"status":"Pulling from dtma/absent"}\r\n{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\r\n')
      return true
    })
  })
  afterEach(() => daemon.close())

  const runtimeOver = () =>
    makeDockerContainerRuntime(dockerApiOf(new Dockerode({ socketPath: daemon.socketPath })), { pullTimeoutMs: 300, requestTimeoutMs: 300 })

  it("reports an error Docker streams after answering 200 as a failed pull", async () => {
    silent = false
    expect(await failureOf(runtimeOver().ensureImage("dtma/absent:1", "always"))).toMatchObject({
      _tag: "ImageUnavailable",
      reason: "pull_failed",
      detail: "manifest unknown",
    })
    expect(daemon.state.urls).toEqual(["/images/create?fromImage=dtma%2Fabsent&tag=1"])
  })

  it("times out a pull the daemon never answers and closes its connection", async () => {
    expect(await failureOf(runtimeOver().ensureImage("dtma/absent:1", "always"))).toMatchObject({ _tag: "ImageUnavailable", reason: "pull_timeout" })
    await expect.poll(() => daemon.state.closedUnanswered).toBe(1)
  })

  it("times out any other request the daemon never answers as RuntimeUnavailable and closes its connection", async () => {
    expect(await failureOf(runtimeOver().list())).toMatchObject({ _tag: "RuntimeUnavailable" })
    await expect.poll(() => daemon.state.closedUnanswered).toBe(1)
  })
})
