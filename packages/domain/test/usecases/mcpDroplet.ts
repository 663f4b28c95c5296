import { Effect, Exit, Redacted, Scope } from "effect"
import {
  defaultRenewalPolicy,
  defaultRetryPolicy,
  makeCredentialCache,
  makeInstances,
  makeMcpServers,
  makeServerCredentials,
  type DeployRequest,
  type EnvRenewal,
  type McpServers,
  type McpServersSettings,
  type McpServerView,
} from "../../src/index.ts"
import {
  echoMcpServer,
  InMemoryContainerEvents,
  InMemoryContainerLogs,
  InMemoryContainerRuntime,
  InMemoryCredentialDelivery,
  InMemoryCredentialSource,
  InMemoryMcpConnector,
  virtualTime,
  type McpServerFactory,
  type VirtualTime,
} from "@dtma/testing"
import { testSupervision } from "./testSupervision.ts"

/**
 * The fakes wired as a droplet behaves, on virtual time: each image serves its MCP server once its
 * container runs (unless `refusing`), and a crash is what Docker shows — the process gone, its
 * connections closed, a `die` event.
 */
export const droplet = (
  options: {
    readonly servers?: Record<string, McpServerFactory>
    readonly settings?: McpServersSettings
    /** OAuth tokens from an in-memory backend, delivered in memory: connection `gh` (github) is there. */
    readonly credentials?: boolean
  } = {},
) => {
  const servers = options.servers ?? { "mcp/echo:1": echoMcpServer }
  const settings = options.settings ?? testSupervision()
  const vt: VirtualTime = virtualTime()
  const runtime = new InMemoryContainerRuntime({ images: [...Object.keys(servers), "mcp/silent:1"], now: vt.now })
  const connector = new InMemoryMcpConnector()
  const logs = new InMemoryContainerLogs()
  const events = new InMemoryContainerEvents()
  const refusing = { now: false }
  const serving: typeof connector = Object.assign(Object.create(connector) as InMemoryMcpConnector, {
    connect: (target: Parameters<InMemoryMcpConnector["connect"]>[0], connectOptions: { timeoutMs: number }) =>
      runtime.get(target.containerId).pipe(
        Effect.tap((c) =>
          Effect.sync(() => {
            const factory = servers[c.image]
            if (factory !== undefined && c.state === "running" && !refusing.now) connector.register(c.containerId, factory)
            else connector.makeUnreachable(c.containerId)
          }),
        ),
        Effect.ignore,
        Effect.andThen(connector.connect(target, connectOptions)),
      ),
  })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 1 } })
  const source = new InMemoryCredentialSource({ lifetimeMs: 3_600_000 })
  source.connect("gh", { provider: "github", scopes: [] })
  const delivery = new InMemoryCredentialDelivery()
  const credentials =
    options.credentials === true
      ? (onEnvRenewal: EnvRenewal) =>
          makeServerCredentials({
            cache: makeCredentialCache({ source }),
            delivery,
            settings: { onExpiry: defaultRenewalPolicy, retry: defaultRetryPolicy, idleRecheckMs: 60_000 },
            onEnvRenewal,
          })
      : undefined

  /** A DTMA's MCP supervision over the droplet, living until `stopped` (or the end of the test). */
  const start = async (): Promise<{ readonly mcp: McpServers; readonly stop: () => Promise<void> }> => {
    const scope = Scope.makeUnsafe()
    const mcp = await vt.run(makeMcpServers({ instances, runtime, connector: serving, logs, events, settings, credentials }).pipe(Scope.provide(scope)))
    return { mcp, stop: () => vt.run(Scope.close(scope, Exit.void)) }
  }

  const crash = async (mcp: McpServers, name: string, exitCode = 1) => {
    const { containerId } = await vt.run(mcp.get(name))
    runtime.crash(containerId, exitCode)
    await connector.crash(containerId, "the process exited")
    events.emit({ kind: "die", containerId, name, exitCode, at: vt.now() })
    // Let the supervisor take the news in before the test looks.
    await vt.advance(0)
  }

  /** Advances virtual time until `name` matches `expected`. */
  const until = (mcp: McpServers, name: string, expected: (view: McpServerView) => boolean, limitMs = 10_000) =>
    vt.until(async () => expected(await vt.run(mcp.get(name))), { limitMs })

  return { vt, runtime, connector, logs, events, instances, refusing, start, crash, until, source, delivery }
}

export const request = (overrides: Partial<DeployRequest> = {}): DeployRequest => ({
  name: "echo-server",
  accountToolInstanceId: "ati-1",
  image: "mcp/echo:1",
  env: [{ name: "TOKEN", value: Redacted.make("t") }],
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
  ...overrides,
})

export const callEcho = (mcp: McpServers, name: string, text: string) =>
  mcp
    .session(name)
    .pipe(
      Effect.flatMap((s) =>
        s.forward("client-1", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text } } }, { timeoutMs: 500 }),
      ),
    )
