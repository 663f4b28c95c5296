import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { arbMultiLineSecret } from "@dtma/testing"
import {
  createFailure,
  dockerMessageOf,
  notFoundOr,
  pullFailure,
  redact,
  runtimeFailure,
  startFailure,
  unavailableHostPortOf,
} from "../../src/docker/dockerErrors.ts"
import { httpError, socketError } from "./FakeDockerApi.ts"

// Messages as Docker 20.10 and Node 24 produced them on this project's machines.
const PORT_ALLOCATED =
  "driver failed programming external connectivity on endpoint t-b (011285b50cbe): Bind for 127.0.0.1:32768 failed: port is already allocated"
const ADDRESS_IN_USE =
  "driver failed programming external connectivity on endpoint t (0112): " +
  "Error starting userland proxy: listen tcp4 127.0.0.1:8080: bind: address already in use"
const NAME_TAKEN =
  'Conflict. The container name "/t" is already in use by container "6cb12a96ccae". ' +
  "You have to remove (or rename) that container to be able to reuse that name."

describe("Docker failures in domain words", () => {
  it.each([
    ["the socket is missing", "RuntimeUnavailable", socketError("ENOENT")],
    ["the daemon refuses connections", "RuntimeUnavailable", socketError("ECONNREFUSED")],
    ["the daemon dropped the connection", "RuntimeUnavailable", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["the daemon closed the pipe", "RuntimeUnavailable", Object.assign(new Error("write EPIPE"), { code: "EPIPE" })],
    ["the daemon answers 500", "RuntimeOperationFailed", httpError(500, "server error", "something broke")],
    ["something odd was thrown", "RuntimeOperationFailed", "a string"],
  ])("every operation: %s → %s", (_, tag, error) => {
    expect(runtimeFailure("list", error)).toMatchObject({ _tag: tag })
  })

  it.each([
    ["409 name conflict", httpError(409, "unexpected", NAME_TAKEN), { _tag: "ContainerNameConflict", containerName: "t" }],
    [
      "404 missing image",
      httpError(404, "no such container", "No such image: x:1"),
      { _tag: "RuntimeOperationFailed", operation: "create", detail: "No such image: x:1" },
    ],
    ["daemon down", socketError("ECONNREFUSED"), { _tag: "RuntimeUnavailable" }],
  ])("create: %s", (_, error, expected) => {
    expect(createFailure("t", [])(error)).toMatchObject(expected)
  })

  it.each([
    ["404", httpError(404, "no such container", "No such container: c1"), { _tag: "ContainerNotFound", containerId: "c1" }],
    ["port is already allocated", httpError(500, "server error", PORT_ALLOCATED), { _tag: "HostPortUnavailable", hostPort: 32768 }],
    ["address already in use", httpError(500, "server error", ADDRESS_IN_USE), { _tag: "HostPortUnavailable", hostPort: 8080 }],
    [
      "another 500",
      httpError(500, "server error", "OCI runtime create failed"),
      { _tag: "RuntimeOperationFailed", operation: "start", detail: "OCI runtime create failed" },
    ],
    ["daemon down", socketError("ENOENT"), { _tag: "RuntimeUnavailable" }],
  ])("start: %s", (_, error, expected) => {
    expect(startFailure("c1")(error)).toMatchObject(expected)
  })

  it("stop and inspect: 404 is ContainerNotFound, anything else a runtime failure", () => {
    expect(notFoundOr("stop", "c1")(httpError(404, "no such container", "No such container: c1"))).toMatchObject({
      _tag: "ContainerNotFound",
      containerId: "c1",
    })
    expect(notFoundOr("stop", "c1")(httpError(500, "server error", "tired"))).toMatchObject({ _tag: "RuntimeOperationFailed", operation: "stop" })
  })

  it("pull: a refusal is ImageUnavailable with Docker's reason, an unreachable daemon stays RuntimeUnavailable", () => {
    const noRegistry = new Error('(HTTP code 500) server error - Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host ')
    expect(pullFailure("x:1")(Object.assign(noRegistry, { statusCode: 500, json: null }))).toMatchObject({
      _tag: "ImageUnavailable",
      image: "x:1",
      reason: "pull_failed",
      detail: 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host',
    })
    expect(pullFailure("x:1")(socketError("ECONNREFUSED"))).toMatchObject({ _tag: "RuntimeUnavailable" })
  })
})

describe("Docker's messages", () => {
  it("lose dockerode's HTTP prefix when Docker sent no JSON body", () => {
    expect(dockerMessageOf(Object.assign(new Error("(HTTP code 500) server error - boom "), { json: null }))).toBe("boom")
    expect(dockerMessageOf(new Error("connect ENOENT /var/run/docker.sock"))).toBe("connect ENOENT /var/run/docker.sock")
  })

  it.each([
    [PORT_ALLOCATED, 32768],
    [ADDRESS_IN_USE, 8080],
    ["Error starting userland proxy: listen tcp6 [::]:9090: bind: address already in use", 9090],
    ["port is already allocated", null],
    ['OCI runtime create failed: exec: "/srv:1": no such file', null],
  ])("name the unavailable host port in %j: %j", (message, port) => {
    expect(unavailableHostPortOf(message)).toBe(port)
  })

  it("never carry an environment value out of a failed create", () => {
    fc.assert(
      fc.property(fc.array(fc.uuid(), { minLength: 1, maxLength: 3 }), fc.string(), (values, noise) => {
        const error = httpError(400, "bad parameter", `invalid environment variable: ${values.join(noise)} ${noise}`)
        const failure = createFailure("t", values)(error)
        for (const v of values) expect(failure.message).not.toContain(v)
      }),
    )
  })

  it("never carry a line of a multi-line environment value out of a failed create, echoed raw or quoted", () => {
    fc.assert(
      fc.property(fc.array(arbMultiLineSecret, { minLength: 1, maxLength: 3 }), fc.boolean(), (values, quoted) => {
        const echoed = values.map((v, i) => `K${i}=${quoted ? JSON.stringify(v) : v}`).join(", ")
        const failure = createFailure("t", values)(httpError(400, "bad parameter", `invalid environment variables: ${echoed}`))
        const lines = values
          .flatMap((v) => v.split(/\r\n|\r|\n/))
          .map((l) => l.trim())
          .filter((l) => l.length >= 4 && !l.includes("<redacted>"))
        for (const line of lines) expect(failure.message).not.toContain(quoted ? JSON.stringify(line).slice(1, -1) : line)
      }),
    )
  })

  it("redact every secret, longest first", () => {
    expect(redact("A=hunter2 B=hunter", ["hunter", "hunter2"])).toBe("A=<redacted> B=<redacted>")
    expect(redact("nothing here", [""])).toBe("nothing here")
  })
})
