import type { Api } from "./api.ts"

export const EVERYTHING = "dtma/mcp-everything:2026.8.31"
export const MEMORY = "dtma/mcp-memory:2026.8.31"
export const WEBSOCKET = "dtma/mcp-websocket:4.0.0"

/** Which cheap tool the clients call on a server: server-everything's `echo` or server-memory's `read_graph`. */
export type CheapTool = "echo" | "read_graph"

/** One MCP server of the soak: its name, its deploy body (also the redeploy body) and its cheap tool. */
export interface ServerSpec {
  readonly name: string
  readonly transport: string
  readonly body: Readonly<Record<string, unknown>>
  readonly tool: CheapTool
}

const network = (transport: string, cmd: string) => ({
  dockerImageUrl: EVERYTHING,
  mcpTransportType: transport,
  mcpPort: 3001,
  baseConfigOverrideJson: { Cmd: [cmd], Env: ["PORT=3001"] },
})

/** OAuth for a server: its connection, delivered as files or through a socket (tokens from the backend stand-in). */
const oauth = (connection: string, method: "mounted_secrets" | "runtime_api") => ({
  agentId: "soak-agent",
  oauthConnectionIds: [connection],
  credentialInjectionMethod: method,
})

// Ten servers over every transport: stdio server-everything and server-memory, Streamable HTTP and
// SSE server-everything, and server-memory behind supergateway's WebSocket. The last of a kind may
// carry OAuth credentials (two servers share the GitHub connection).
const KINDS: ReadonlyArray<{
  readonly kind: string
  readonly count: number
  readonly tool: CheapTool
  readonly body: Record<string, unknown>
  readonly lastWith?: Record<string, unknown>
}> = [
  {
    kind: "ev-stdio",
    count: 3,
    tool: "echo",
    body: { dockerImageUrl: EVERYTHING, mcpTransportType: "stdio" },
    lastWith: oauth("soak-github", "mounted_secrets"),
  },
  {
    kind: "mem-stdio",
    count: 2,
    tool: "read_graph",
    body: { dockerImageUrl: MEMORY, mcpTransportType: "stdio" },
    lastWith: oauth("soak-slack", "mounted_secrets"),
  },
  { kind: "ev-http", count: 2, tool: "echo", body: network("streamable_http", "streamableHttp"), lastWith: oauth("soak-github", "runtime_api") },
  { kind: "ev-sse", count: 2, tool: "echo", body: network("sse", "sse") },
  {
    kind: "mem-ws",
    count: 1,
    tool: "read_graph",
    body: { dockerImageUrl: WEBSOCKET, mcpTransportType: "websocket", mcpPort: 8000, mcpEndpointPath: "/message" },
  },
]

/** The soak's ten servers, named `<run>-<kind>-<n>`. */
export const fleetOf = (run: string): ReadonlyArray<ServerSpec> =>
  KINDS.flatMap(({ kind, count, tool, body, lastWith }) =>
    Array.from({ length: count }, (_, i) => {
      const name = `${run}-${kind}-${i + 1}`
      const extra = i === count - 1 ? (lastWith ?? {}) : {}
      return {
        name,
        transport: String(body.mcpTransportType),
        tool,
        body: { ...body, ...extra, instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name}` },
      }
    }),
  )

/** Deploys every server, two at a time (a 2-core machine); throws with the DTMA's answer if one fails. */
export const deployFleet = async (api: Api, fleet: ReadonlyArray<ServerSpec>): Promise<ReadonlyArray<number>> => {
  const times: Array<number> = []
  const queue = [...fleet]
  const worker = async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) {
      const started = Date.now()
      const answer = await api.call("POST", "/mcp-servers", spec.body, 120_000)
      if (answer.status !== 201) throw new Error(`deploying ${spec.name} answered ${answer.status}: ${JSON.stringify(answer.body)}`)
      times.push(Date.now() - started)
    }
  }
  await Promise.all([worker(), worker()])
  return times
}
