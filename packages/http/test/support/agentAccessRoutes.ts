import { Effect } from "effect"
import type { RouteSpec } from "../../src/routes/routeTable.ts"
import { FIXTURE, type ModelServer } from "./agentAccessModel.ts"
import { deployBody, mcpBody, type TestApp } from "./support.ts"

// The management side of the agent-access property test: requests on every route of the route
// table, and what a refused one must leave as it was.

/** The MCP server the management app runs (`mcpBody()`'s), as agents' grants name it. */
export const MCP_A: ModelServer = { ...FIXTURE, name: "mcp-a", accountToolInstanceId: "ati-mcp-a" }

/** What the DTMA manages and what agent access keeps: what a refused request must leave as it was. */
export const snapshot = async (app: TestApp) => ({
  containers: (await Effect.runPromise(app.runtime.list())).map((c) => `${c.name} ${c.state}`).sort(),
  mcpServers: app.mcpServers
    .list()
    .map((s) => `${s.instanceName} ${s.containerId} ${s.containerState}`)
    .sort(),
  revocations: app.agentAccess.revocationStore.saves.length,
  keys: (await Effect.runPromise(app.agentAccess.issuer.jwks())).keys.map((k) => k.kid),
})

/** A route's path with its parameters filled: what an operator may harmlessly touch, what an agent would like to break. */
export const concrete = (route: RouteSpec, operator: boolean, n: number): string => {
  const harmless = operator && route.method !== "GET"
  return route.path
    .replace(":name", harmless ? `ghost-${n}` : route.path.startsWith("/tools") ? "tool-a" : "mcp-a")
    .replace(":groupId", "group-1")
    .replace(":agentId", operator ? `nobody-${n}` : "victim")
    .replace(":tokenId", operator ? `nobody-jti-${n}` : "victim-jti")
}

/** A body for a POST: one that would do something when it can (an operator's harmless where it would not be). */
export const bodyOf = (route: RouteSpec, operator: boolean, n: number): unknown => {
  switch (route.id) {
    case "deployTool":
      return deployBody({ instanceNameOnToolbox: operator ? `op-tool-${n}` : "agent-tool", accountToolInstanceId: `ati-op-${n}` })
    case "deployMcpServer":
      return operator ? {} : mcpBody({ instanceNameOnToolbox: "agent-mcp" })
    case "issueAgentToken":
      return { agentId: "escalated", grants: [{ server: "mcp-a" }] }
    default:
      return route.method === "POST" ? {} : undefined
  }
}
