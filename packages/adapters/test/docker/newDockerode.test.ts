import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const MODULE = join(import.meta.dirname, "..", "..", "src", "docker", "newDockerode.ts")

// A fresh process: the test runner's own require cache may hold anything.
const inFreshNode = (body: string): unknown => {
  const script = `
    import { createRequire } from "node:module"
    import { dockerodeClass, newDockerode } from ${JSON.stringify(MODULE)}
    const require = createRequire(import.meta.url)
    const loaded = (name) => Object.keys(require.cache).some((p) => p.includes("/node_modules/" + name + "/"))
    ${body}`
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }))
}

describe("newDockerode", () => {
  it("makes a Docker client without loading the gRPC, protobuf or SSH stacks", () => {
    const seen = inFreshNode(`
      const docker = newDockerode()
      console.log(JSON.stringify({ client: typeof docker.listContainers, dockerode: loaded("dockerode"),
        grpc: loaded("@grpc/grpc-js"), protobuf: loaded("protobufjs"), ssh2: loaded("ssh2") }))`)
    expect(seen).toEqual({ client: "function", dockerode: true, grpc: false, protobuf: false, ssh2: false })
  })

  it("loads the SSH transport when a client first dials over SSH", () => {
    const seen = inFreshNode(`
      const Dockerode = dockerodeClass()
      const fromDockerode = createRequire(require.resolve("dockerode", { paths: [${JSON.stringify(join(import.meta.dirname, "..", ".."))}] }))
      const fromModem = createRequire(fromDockerode.resolve("docker-modem"))
      const agent = fromModem("./ssh")({ host: "docker.invalid" })
      const same = Dockerode === dockerodeClass()
      console.log(JSON.stringify({ agent: typeof agent.createConnection, ssh2: loaded("ssh2"), grpc: loaded("@grpc/grpc-js"), same }))`)
    expect(seen).toEqual({ agent: "function", ssh2: true, grpc: false, same: true })
  })

  it("loads the BuildKit session when a build asks for one", () => {
    const seen = inFreshNode(`
      dockerodeClass()
      const fromDockerode = createRequire(require.resolve("dockerode", { paths: [${JSON.stringify(join(import.meta.dirname, "..", ".."))}] }))
      const withSession = fromDockerode("./session")
      let answered = false
      const fakeDocker = { modem: { dial: (_options, callback) => callback(new Error("no engine here")) } }
      withSession(fakeDocker, undefined, (error) => { answered = error instanceof Error })
      console.log(JSON.stringify({ grpc: loaded("@grpc/grpc-js"), answered }))`)
    expect(seen).toEqual({ grpc: true, answered: true })
  })
})
