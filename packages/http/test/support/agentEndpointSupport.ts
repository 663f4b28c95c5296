import { Effect } from "effect"
import type { Notification } from "@modelcontextprotocol/sdk/types.js"
import type { Grants } from "@dtma/domain"
import type { InMemoryAuditLog } from "@dtma/testing"
import { DEFAULT_MCP_CONFIG, type McpConfig } from "../../src/composition/mcpConfig.ts"
import { FIXTURE_ATI, GRANTS_IMAGE, grantsFixture, GrantsProbe, TWIN_IMAGE } from "./grantsSupport.ts"
import { fixtureServer, PROXY_IMAGE, proxyClient, ServerProbe, type ProxyClient } from "./mcpProxySupport.ts"
import { McpServingRuntime, startTestApp, type TestApp } from "./support.ts"

/** What an agent endpoint client heard on its notification stream, by method. */
export interface Heard {
  readonly methods: Array<string>
  readonly notifications: Array<Notification>
}

export interface AgentApp extends TestApp {
  /** The grants fixture, deployed as `fixture` (account tool instance `ati-fixture`). */
  readonly probe: GrantsProbe
  /** Its twin (no secrets), deployed as `twin`. */
  readonly twinProbe: GrantsProbe
  /** The proxy fixture (progress, cancellation, list changes, instructions), deployed as `tools`. */
  readonly toolsProbe: ServerProbe
  readonly agentEndpoint: string
  /** A token the app accepts for agent `sub` (default `agent-1`). */
  mint(grants: Grants, options?: { readonly sub?: string }): Promise<string>
  /** Deploys one of the three images under `name`. */
  deploy(name: string, image: string, accountToolInstanceId?: string | null): Promise<void>
  /** An SDK client of `/mcp` under `token`, and every notification it heard. */
  client(token: string): Promise<ProxyClient & { readonly heard: Heard }>
}

const STDIO = { transport: "stdio", endpointPath: null, port: null } as const

/** The DTMA over the fakes with three servers: `fixture` and `twin` (the grants fixtures) and `tools` (the proxy fixture). */
export const startAgentApp = async (options: { readonly mcp?: Partial<McpConfig>; readonly auditLog?: InMemoryAuditLog } = {}): Promise<AgentApp> => {
  const probe = new GrantsProbe()
  const twinProbe = new GrantsProbe()
  const toolsProbe = new ServerProbe()
  const runtime = new McpServingRuntime({ images: [GRANTS_IMAGE, TWIN_IMAGE, PROXY_IMAGE] })
  runtime.servers.set(GRANTS_IMAGE, grantsFixture(probe, { secrets: true }))
  runtime.servers.set(TWIN_IMAGE, grantsFixture(twinProbe, { secrets: false }))
  runtime.servers.set(PROXY_IMAGE, fixtureServer(toolsProbe))
  const app = await startTestApp({
    runtime,
    ...(options.auditLog === undefined ? {} : { auditLog: options.auditLog }),
    // Pings would change nothing here but the timing: push them out of the way.
    config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000, ...options.mcp } },
  })
  const deploy = (name: string, image: string, accountToolInstanceId: string | null = null) =>
    Effect.runPromise(app.mcpServers.deploy({ name, accountToolInstanceId, image, env: [], ports: [], mcp: STDIO })).then(() => undefined)
  await deploy("fixture", GRANTS_IMAGE, FIXTURE_ATI)
  await deploy("twin", TWIN_IMAGE)
  await deploy("tools", PROXY_IMAGE)
  const agentEndpoint = `${app.base}/mcp`
  return {
    ...app,
    probe,
    twinProbe,
    toolsProbe,
    agentEndpoint,
    deploy,
    mint: (grants, o = {}) => Effect.runPromise(app.agentAccess.tokens.mint({ sub: o.sub ?? "agent-1", grants, ttlSeconds: 900 })),
    client: async (token) => {
      const opened = await proxyClient(agentEndpoint, token)
      const heard: Heard = { methods: [], notifications: [] }
      opened.client.fallbackNotificationHandler = async (notification) => {
        heard.methods.push(notification.method)
        heard.notifications.push(notification)
      }
      await opened.streamOpen
      return { ...opened, heard }
    },
  }
}

/** The names of a list's items. */
export const namesOf = (items: ReadonlyArray<{ readonly name: string }>): ReadonlyArray<string> => items.map((i) => i.name)

/** Every tool of the proxy fixture, in its order. */
export const TOOLS_OF_TOOLS = ["echo", "add", "count", "wait", "hold", "add-tool", "touch", "log"]
/** Every tool of the grants fixture, in its order (its twin lacks `secret`). */
export const TOOLS_OF_FIXTURE = ["echo", "touch", "log", "hold", "search_a", "search_b", "secret"]
