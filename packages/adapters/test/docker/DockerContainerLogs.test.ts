import { describe, expect, it } from "vitest"
import { failureOf, run } from "@dtma/testing"
import { logLinesOf, makeDockerContainerLogs } from "../../src/docker/DockerContainerLogs.ts"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"
import { FakeDockerApi } from "./FakeDockerApi.ts"

const signal = new AbortController().signal
const body = { name: "srv", Image: "img", Env: [], Labels: {}, ExposedPorts: {}, HostConfig: { PortBindings: {}, RestartPolicy: { Name: "no" as const }, Init: true } }

const withLog = async (lines: ReadonlyArray<readonly ["stdout" | "stderr", string]>) => {
  const docker = new FakeDockerApi()
  docker.images.add("img")
  const id = await docker.createContainer(body, signal)
  for (const [stream, text] of lines) docker.writeLog(id, stream, text)
  return { docker, id, logs: makeDockerContainerLogs(docker, { requestTimeoutMs: 200 }) }
}

describe("DockerContainerLogs over a fake Docker API", () => {
  it("gives the last lines of stderr only, oldest first, when asked for stderr", async () => {
    const { id, logs } = await withLog([["stderr", "one"], ["stdout", "{\"jsonrpc\":\"2.0\"}"], ["stderr", "two"], ["stderr", "three"]])
    expect(await run(logs.tail(id, { lines: 2, streams: "stderr" }))).toEqual([
      { stream: "stderr", text: "two" },
      { stream: "stderr", text: "three" },
    ])
  })

  it("interleaves both streams in the order they were written when asked for all", async () => {
    const { id, logs } = await withLog([["stderr", "a"], ["stdout", "b"], ["stderr", "c"]])
    expect((await run(logs.tail(id, { lines: 10, streams: "all" }))).map((l) => `${l.stream}:${l.text}`)).toEqual(["stderr:a", "stdout:b", "stderr:c"])
    expect(await run(logs.tail(id, { lines: 0, streams: "all" }))).toEqual([])
  })

  it("reports an absent container as not found and an unreachable daemon as unavailable", async () => {
    const { docker, logs } = await withLog([])
    expect(await failureOf(logs.tail("nope", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "ContainerNotFound", containerId: "nope" })
    docker.daemon = "down"
    expect(await failureOf(logs.tail("nope", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "RuntimeUnavailable" })
    docker.daemon = "silent"
    expect(await failureOf(logs.tail("nope", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "RuntimeUnavailable" })
  })
})

describe("the lines of a multiplexed log", () => {
  it("joins a line split across frames, ends an unterminated last line, and notes an overlong one", () => {
    const log = Buffer.concat([
      encodeFrame("stderr", "par"),
      encodeFrame("stdout", "out\n"),
      encodeFrame("stderr", "tial\n"),
      encodeFrame("stderr", `${"x".repeat(20)}\n`),
      encodeFrame("stderr", "last"),
    ])
    expect(logLinesOf(log, 10)).toEqual([
      { stream: "stdout", text: "out" },
      { stream: "stderr", text: "partial" },
      { stream: "stderr", text: "[line longer than 10 bytes left out]" },
      { stream: "stderr", text: "last" },
    ])
  })
})
