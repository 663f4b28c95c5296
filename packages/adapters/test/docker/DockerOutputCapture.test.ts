import { setImmediate as turn } from "node:timers/promises"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { InstanceSpec } from "@dtma/domain"
import { containerLogsContract, failureOf, run } from "@dtma/testing"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { makeDockerOutputCapture, type DockerOutputCaptureOptions } from "../../src/docker/DockerOutputCapture.ts"
import { createBody, FakeDockerApi } from "./FakeDockerApi.ts"

const signal = new AbortController().signal
const body = createBody

const rig = async (options: DockerOutputCaptureOptions = {}) => {
  const docker = new FakeDockerApi()
  docker.images.add("img")
  const capture = makeDockerOutputCapture(docker, { requestTimeoutMs: 200, ...options })
  const id = await docker.createContainer(body, signal)
  return { docker, capture, id }
}
const texts = async (capture: ReturnType<typeof makeDockerOutputCapture>, id: string, lines = 100) =>
  (await run(capture.logs.tail(id, { lines, streams: "all" }))).map((l) => `${l.stream}:${l.text}`)

containerLogsContract("DockerOutputCapture over a fake Docker API", async () => {
  const docker = new FakeDockerApi()
  docker.images.add("img")
  const capture = makeDockerOutputCapture(docker, { requestTimeoutMs: 200 })
  return {
    logs: capture.logs,
    absentId: "absent",
    containerThatWrote: async (kind, lines) => {
      const id = await docker.createContainer({ ...body, name: `srv-${Math.random()}` }, signal)
      await capture.follow(id, kind === "stdio" ? "stderr" : "all")
      for (const l of lines) docker.write(id, l.stream, `${l.text}\n`)
      await turn()
      return id
    },
  }
})

describe("DockerOutputCapture over a fake Docker API", () => {
  it("joins a line split across writes, reads a line once its newline arrives, and notes an overlong one", async () => {
    const { docker, capture, id } = await rig({ maxLineBytes: 10 })
    await capture.follow(id, "all")
    for (const [stream, text] of [
      ["stderr", "par"],
      ["stdout", "out\n"],
      ["stderr", "tial\n"],
      ["stderr", `${"x".repeat(20)}\n`],
      ["stderr", "la"],
    ] as const) {
      docker.write(id, stream, text)
    }
    await turn()
    // "la" is a line still being written: not read yet.
    expect(await texts(capture, id)).toEqual(["stdout:out", "stderr:partial", "stderr:[line longer than 10 bytes left out]"])
    docker.write(id, "stderr", "st\nnext")
    await turn()
    expect((await texts(capture, id)).at(-1)).toBe("stderr:last")
  })

  it("never reads half a line, so a secret written in two pieces is not shown by halves; the last piece counts once the output ends", async () => {
    const { docker, capture, id } = await rig()
    await docker.startContainer(id, signal)
    await capture.follow(id, "stderr")
    docker.write(id, "stderr", "using token sk-live-01")
    await turn()
    expect(await texts(capture, id)).toEqual([])
    docker.write(id, "stderr", "23456789\nbye")
    await turn()
    expect(await texts(capture, id)).toEqual(["stderr:using token sk-live-0123456789"])
    // The container exits without a final newline: what it wrote last is a line, not joined to the next run's first.
    await docker.stopContainer(id, 1, signal)
    await turn()
    expect(await texts(capture, id)).toEqual(["stderr:using token sk-live-0123456789", "stderr:bye"])
    await docker.startContainer(id, signal)
    await capture.follow(id, "stderr")
    docker.write(id, "stderr", "again\n")
    await turn()
    expect((await texts(capture, id)).slice(-2)).toEqual(["stderr:bye", "stderr:again"])
  })

  it("keeps the newest output within its byte bound, leaving out a line the bound cut", async () => {
    const { docker, capture, id } = await rig({ maxBytesPerContainer: 100 })
    await capture.follow(id, "stderr")
    // 30 lines of 10 bytes: the bound keeps the last 10 whole ones.
    for (let i = 0; i < 30; i++) docker.write(id, "stderr", `line ${String(i).padStart(4, "0")}\n`)
    // A 20-byte write: the two oldest kept lines go, whole ("abcd", no newline yet, is kept but not read).
    docker.write(id, "stderr", "fifteen-bytes..\nabcd")
    await turn()
    const kept = await texts(capture, id)
    expect(kept).toEqual([...Array.from({ length: 8 }, (_, k) => `stderr:line ${String(k + 22).padStart(4, "0")}`), "stderr:fifteen-bytes.."])
    // One more byte: the oldest line loses its first byte and is left out, not shown cut.
    docker.write(id, "stderr", "e")
    await turn()
    expect((await texts(capture, id))[0]).toBe("stderr:line 0023")
  })

  it("keeps the tail of a single write larger than the bound", async () => {
    const { docker, capture, id } = await rig({ maxBytesPerContainer: 16 })
    await capture.follow(id, "stderr")
    docker.write(id, "stderr", `${"y".repeat(1000)}\nthe end\n`)
    await turn()
    expect(await texts(capture, id)).toEqual(["stderr:the end"])
  })

  it("follows a container once however often asked, again after it stopped, and keeps what it wrote before", async () => {
    const { docker, capture, id } = await rig()
    await Promise.all([capture.follow(id, "stderr"), capture.follow(id, "stderr")])
    expect(docker.openOutputs(id)).toBe(1)
    await docker.startContainer(id, signal)
    docker.write(id, "stderr", "first run\n")
    await docker.stopContainer(id, 1, signal)
    await turn()
    expect(docker.openOutputs(id)).toBe(0)
    await capture.follow(id, "stderr")
    docker.write(id, "stderr", "second run\n")
    await turn()
    expect(await texts(capture, id)).toEqual(["stderr:first run", "stderr:second run"])
  })

  it("forgets a dropped container and closes its attachment", async () => {
    const { docker, capture, id } = await rig()
    await capture.follow(id, "stderr")
    docker.write(id, "stderr", "hello\n")
    capture.drop(id)
    expect(docker.openOutputs(id)).toBe(0)
    // Still there, never followed again: an empty log, not someone else's lines.
    expect(await texts(capture, id)).toEqual([])
    await docker.removeContainer(id, signal)
    expect(await failureOf(capture.logs.tail(id, { lines: 5, streams: "all" }))).toMatchObject({ _tag: "ContainerNotFound" })
  })

  it("reports an attach Docker refuses or never answers, and reads an unreachable daemon as unavailable", async () => {
    const errors: Array<string> = []
    const { docker, capture, id } = await rig({ onError: (containerId) => errors.push(containerId) })
    docker.daemon = "silent"
    await capture.follow(id, "stderr")
    expect(errors).toEqual([id])
    docker.daemon = "down"
    expect(await failureOf(capture.logs.tail("other", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "RuntimeUnavailable" })
    docker.daemon = "up"
    await capture.follow(id, "stderr")
    expect(docker.openOutputs(id)).toBe(1)
  })
})

describe("DockerContainerRuntime with an output capture", () => {
  const server = (transport: "stdio" | "streamable_http"): InstanceSpec => ({
    name: `srv-${transport}`,
    accountToolInstanceId: null,
    image: "img",
    kind: "mcp_server",
    env: [{ name: "TOKEN", value: Redacted.make("tok-1") }],
    ports: [],
    pullPolicy: "if_not_present",
    mcp: { transport, endpointPath: transport === "stdio" ? null : "/mcp", port: transport === "stdio" ? null : 3001 },
    command: null,
  })
  const setup = () => {
    const docker = new FakeDockerApi()
    docker.images.add("img")
    const capture = makeDockerOutputCapture(docker)
    return { docker, capture, runtime: makeDockerContainerRuntime(docker, { output: capture }) }
  }

  it("attaches before starting an MCP server, to stderr only for stdio, and drops its output with it", async () => {
    const { docker, capture, runtime } = setup()
    const stdio = await run(runtime.create(server("stdio")))
    const http = await run(runtime.create(server("streamable_http")))
    let attachedAtStart = -1
    const start = docker.startContainer.bind(docker)
    docker.startContainer = (id, s) => ((attachedAtStart = docker.openOutputs(id)), start(id, s))
    await run(runtime.start(stdio.containerId))
    expect(attachedAtStart).toBe(1)
    await run(runtime.start(http.containerId))
    for (const id of [stdio.containerId, http.containerId]) {
      docker.write(id, "stdout", "out\n")
      docker.write(id, "stderr", "err\n")
    }
    await turn()
    expect(await texts(capture, stdio.containerId)).toEqual(["stderr:err"])
    expect(await texts(capture, http.containerId)).toEqual(["stdout:out", "stderr:err"])
    await run(runtime.remove(http.containerId))
    expect(await failureOf(capture.logs.tail(http.containerId, { lines: 5, streams: "all" }))).toMatchObject({ _tag: "ContainerNotFound" })
  })

  it("follows a running MCP server it finds unfollowed (adopted, or started by someone else), and never a standard tool", async () => {
    const { docker, capture, runtime } = setup()
    const mcp = await run(runtime.create(server("stdio")))
    const tool = await run(runtime.create({ ...server("stdio"), name: "tool", kind: "standard_tool", mcp: null }))
    await docker.startContainer(mcp.containerId, signal)
    await docker.startContainer(tool.containerId, signal)
    expect(docker.openOutputs(mcp.containerId)).toBe(0)
    await run(runtime.list())
    await turn()
    expect(docker.openOutputs(mcp.containerId)).toBe(1)
    expect(docker.openOutputs(tool.containerId)).toBe(0)
    docker.write(mcp.containerId, "stderr", "adopted\n")
    await turn()
    expect(await texts(capture, mcp.containerId)).toEqual(["stderr:adopted"])
  })
})
