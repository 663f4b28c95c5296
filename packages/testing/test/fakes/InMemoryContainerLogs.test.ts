import { describe, expect, it } from "vitest"
import { containerLogsContract, failureOf, InMemoryContainerLogs, run } from "../../src/index.ts"

containerLogsContract("InMemoryContainerLogs", async () => {
  const logs = new InMemoryContainerLogs()
  let next = 0
  return {
    logs,
    absentId: "absent",
    containerThatWrote: async (_kind, lines) => {
      const id = `c${next++}`
      logs.addContainer(id)
      for (const l of lines) logs.append(id, l.stream, `${l.text}\n`)
      return id
    },
  }
})

describe("InMemoryContainerLogs", () => {
  it("gives the last lines of the chosen streams, oldest first", async () => {
    const logs = new InMemoryContainerLogs()
    logs.append("c", "stderr", "one\ntwo\n")
    logs.append("c", "stdout", "{}")
    logs.append("c", "stderr", "three")
    expect((await run(logs.tail("c", { lines: 2, streams: "stderr" }))).map((l) => l.text)).toEqual(["two", "three"])
    expect((await run(logs.tail("c", { lines: 2, streams: "all" }))).map((l) => `${l.stream}:${l.text}`)).toEqual(["stdout:{}", "stderr:three"])
    expect(await run(logs.tail("c", { lines: 0, streams: "all" }))).toEqual([])
  })

  it("has an empty log for a container that wrote nothing, and none for an absent one", async () => {
    const logs = new InMemoryContainerLogs()
    logs.addContainer("quiet")
    expect(await run(logs.tail("quiet", { lines: 5, streams: "all" }))).toEqual([])
    logs.removeContainer("quiet")
    expect(await failureOf(logs.tail("quiet", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "ContainerNotFound", containerId: "quiet" })
  })

  it("fails as an unreachable runtime while the daemon is down", async () => {
    const logs = new InMemoryContainerLogs()
    logs.addContainer("c")
    logs.daemonDown = true
    expect(await failureOf(logs.tail("c", { lines: 5, streams: "all" }))).toMatchObject({ _tag: "RuntimeUnavailable" })
  })
})
