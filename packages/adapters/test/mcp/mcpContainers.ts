import { createServer } from "node:net"
import Dockerode from "dockerode"
import { Redacted } from "effect"
import type { InstanceSpec, McpSettings, McpTarget, McpTransport } from "@dtma/domain"
import { run } from "@dtma/testing"
import { dockerContainerRuntimeFromEnv } from "../../src/docker/DockerContainerRuntime.ts"
import { managedFilter } from "../../src/docker/labels.ts"

/** Built by scripts/build-images.sh. */
export const EVERYTHING = "dtma/mcp-everything:2026.8.31"
export const WEBSOCKET = "dtma/mcp-websocket:4.0.0"

/** Where each transport's real server comes from: image, command, port and endpoint. */
export const SERVERS: Record<McpTransport, { image: string; command: ReadonlyArray<string> | null; mcp: McpSettings }> = {
  stdio: { image: EVERYTHING, command: null, mcp: { transport: "stdio", endpointPath: null, port: null } },
  sse: { image: EVERYTHING, command: ["sse"], mcp: { transport: "sse", endpointPath: "/sse", port: 3001 } },
  streamable_http: { image: EVERYTHING, command: ["streamableHttp"], mcp: { transport: "streamable_http", endpointPath: "/mcp", port: 3001 } },
  websocket: { image: WEBSOCKET, command: null, mcp: { transport: "websocket", endpointPath: "/message", port: 8000 } },
}

export const docker = new Dockerode()
export const runtime = dockerContainerRuntimeFromEnv()

/** A random-suffixed prefix for a test file's containers; `removeAll` removes everything named with it. */
export const runPrefix = (what: string) => `dtma-test-${what}-${Math.random().toString(36).slice(2, 8)}`

export const removeAll = async (prefix: string): Promise<void> => {
  const mine = await docker.listContainers({ all: true, filters: { name: [prefix] } })
  await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })))
}

/** Removes every container of the DTMA scopes given (`dtma.managed=<scope>`), whatever their names. */
export const removeScopes = async (...scopes: ReadonlyArray<string>): Promise<void> => {
  // The engine ANDs label filters: one query per scope.
  for (const scope of scopes) {
    const mine = await docker.listContainers({ all: true, filters: { label: [managedFilter(scope)] } })
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })))
  }
}

export const mcpSpec = (prefix: string, transport: McpTransport, suffix: string = transport): InstanceSpec => {
  const server = SERVERS[transport]
  return {
    name: `${prefix} ${suffix}`,
    accountToolInstanceId: null,
    image: server.image,
    kind: "mcp_server",
    env: [{ name: "MCP_TEST_SECRET", value: Redacted.make("not-a-secret") }],
    ports: [],
    pullPolicy: "never",
    mcp: server.mcp,
    command: server.command,
  }
}

/** Creates and starts the server's hardened container; the target to reach it. */
export const startMcpServer = async (prefix: string, transport: McpTransport, suffix?: string): Promise<McpTarget> => {
  const spec = mcpSpec(prefix, transport, suffix)
  const { containerId } = await run(runtime.create(spec))
  const running = await run(runtime.start(containerId))
  if (spec.mcp === null || spec.mcp.transport === "stdio") return { transport, containerId, endpoint: null }
  const published = running.ports.find((p) => p.containerPort === spec.mcp?.port)
  return { transport, containerId, endpoint: { hostPort: published?.hostPort ?? 0, path: spec.mcp.endpointPath ?? "/" } }
}

/** A loopback port nothing listens on (bound, then released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
