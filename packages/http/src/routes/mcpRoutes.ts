import { deployMcpGroupBody } from "../requests/mcpGroupSchemas.ts"
import { deployMcpServerBody } from "../requests/mcpSchemas.ts"
import type { RouteSpec } from "./routeTable.ts"

/** The discovery's route: polled, so it has a chain of its own (`isDiscoveryPoll`) and logs its successes at debug. */
export const DISCOVERY_PATH = "/mcp-servers/discovery"

const AUTH = { 401: "Missing or malformed Authorization header", 403: "Unknown token" } as const
const RUNTIME = {
  502: "The container runtime failed, or the server did not become ready (the error has its stderr tail)",
  503: "The container runtime is unreachable",
} as const

const lifecycle = (id: RouteSpec["id"], verb: "start" | "stop" | "restart", done: string): RouteSpec => ({
  id,
  method: "POST",
  path: `/mcp-servers/:name/${verb}`,
  summary: `${verb[0]?.toUpperCase()}${verb.slice(1)} an MCP server`,
  public: false,
  responses:
    verb === "stop"
      ? { 200: done, ...AUTH, 404: "No such MCP server", ...RUNTIME }
      : { 200: done, ...AUTH, 404: "No such MCP server", 409: "A host port it needs is taken", ...RUNTIME },
})

/** The MCP server API (`mcp-servers-api.md`). `/mcp-servers/discovery` comes before `/mcp-servers/:name`. */
export const MCP_ROUTES: ReadonlyArray<RouteSpec> = [
  {
    id: "deployMcpServer",
    method: "POST",
    path: "/mcp-servers",
    summary: "Deploy an MCP server; answers once it is initialized and its capabilities listed, or rolls it back",
    public: false,
    body: deployMcpServerBody,
    responses: {
      201: "Deployed and ready",
      400: "Missing required fields, an invalid request, or a key that widens privileges",
      ...AUTH,
      409: "Name already managed, name used by an unmanaged container, or a host port conflict",
      413: "Body over 1 MB",
      415: "Body is not JSON",
      422: "Image not available",
      501: "OAuth connections, or an override key this version cannot apply yet",
      ...RUNTIME,
    },
  },
  {
    id: "listMcpServers",
    method: "GET",
    path: "/mcp-servers",
    summary: "Every MCP server, a summary each",
    public: false,
    responses: { 200: "The servers", ...AUTH },
  },
  {
    id: "mcpDiscovery",
    method: "GET",
    path: DISCOVERY_PATH,
    summary: "What every MCP server offers, served from memory",
    description:
      "Carries a weak ETag; a request whose If-None-Match names it gets 304 without a body. Cache-Control: no-cache. " +
      "Gzipped (Content-Encoding: gzip) for a request whose Accept-Encoding takes gzip.",
    public: false,
    responses: { 200: "Capabilities of every server", 304: "Unchanged since the ETag given", ...AUTH },
  },
  {
    id: "getMcpServer",
    method: "GET",
    path: "/mcp-servers/:name",
    summary: "One MCP server: transport, container, health history, restarts, last error, capabilities",
    public: false,
    responses: { 200: "The server", ...AUTH, 404: "No such MCP server" },
  },
  lifecycle("startMcpServer", "start", "Started (ready), or already running"),
  lifecycle("stopMcpServer", "stop", "Stopped"),
  lifecycle("restartMcpServer", "restart", "Restarted and ready"),
  {
    id: "redeployMcpServer",
    method: "POST",
    path: "/mcp-servers/:name/redeploy",
    summary: "Replace an MCP server's container (a new image, say) with zero downtime",
    description:
      "The body is a deploy body; instanceNameOnToolbox may be left out. The new container starts beside the old one and is made ready; " +
      "then traffic moves to it, the old one drains and is removed. If the new one never becomes ready it is removed and the old one keeps serving.",
    public: false,
    body: deployMcpServerBody,
    responses: {
      200: "Redeployed and ready",
      400: "An invalid request, or a key that widens privileges",
      ...AUTH,
      404: "No such MCP server",
      409: "A host port conflict",
      422: "Image not available",
      ...RUNTIME,
      502:
        "The container runtime failed, the server did not become ready (stderr tail), " +
        "or the backend failed or refused its OAuth credentials (which connection and why)",
    },
  },
  {
    id: "removeMcpServer",
    method: "DELETE",
    path: "/mcp-servers/:name",
    summary: "Remove an MCP server: drains calls in flight (bounded), removes the container",
    public: false,
    responses: { 200: "Removed", ...AUTH, 404: "No such MCP server", ...RUNTIME },
  },
  {
    id: "refreshMcpServerOAuth",
    method: "POST",
    path: "/mcp-servers/:name/oauth/refresh",
    summary: "Fetch fresh OAuth tokens for a server's connections now and deliver them to it",
    description:
      "Answers once the new tokens are delivered (files replaced, socket answering them, or the env_vars container replaced). Never returns a token.",
    public: false,
    responses: {
      200: "The connections, with their states and new expiry",
      ...AUTH,
      404: "No such MCP server",
      409: "The server has no OAuth connections",
      502: "The backend failed or refused (the error says which connection and why)",
      503: "The tokens could not be delivered",
    },
  },
  {
    id: "mcpServerLogs",
    method: "GET",
    path: "/mcp-servers/:name/logs",
    summary: "The server's stderr (and stdout for network transports), oldest line first",
    public: false,
    query: [
      { name: "tail", description: "How many of the last lines", schema: { type: "integer", minimum: 1, maximum: 5000, default: 200 } },
      { name: "agent", description: "A per_agent server's instance for this agent id (its token's sub)", schema: { type: "string", maxLength: 128 } },
    ],
    responses: {
      200: "The lines",
      400: "tail is not a whole number between 1 and 5000, or agent is empty or too long",
      ...AUTH,
      404: "No such MCP server, or the agent has no instance of it now",
      ...RUNTIME,
    },
  },
  {
    id: "deployMcpGroup",
    method: "POST",
    path: "/mcp/groups",
    summary: "Legacy alias: deploy a group of MCP servers (all or none), as POST /mcp-servers does each",
    description:
      "Groups are kept in memory only: after the DTMA restarts, DELETE /mcp/groups/:groupId answers 404 for groups deployed before, " +
      "whose servers stay managed under their own names (DELETE /mcp-servers/:name). resourceLimits and options.sharedNetworking are ignored; " +
      "at most 4 servers deploy at once.",
    public: false,
    body: deployMcpGroupBody,
    responses: {
      201: "Every server deployed and ready",
      400: "Missing required fields, an invalid server, or a key that widens privileges",
      ...AUTH,
      409: "The group id, a name or a host port is taken",
      422: "Image not available",
      ...RUNTIME,
    },
  },
  {
    id: "removeMcpGroup",
    method: "DELETE",
    path: "/mcp/groups/:groupId",
    summary: "Legacy alias: remove the servers of a group deployed through POST /mcp/groups",
    public: false,
    responses: { 200: "Removed", ...AUTH, 404: "No such group (or deployed before the DTMA last started)", ...RUNTIME },
  },
]
