import type { z } from "zod"
import { deployToolBody } from "../requests/schemas.ts"
import { AGENT_ACCESS_ROUTES, type AgentAccessRouteId } from "./agentAccessRoutes.ts"
import { MCP_ROUTES } from "./mcpRoutes.ts"
import type { McpServerRouteId } from "./mcpServerHandlers.ts"

export type RouteId =
  | "health"
  | "status"
  | "openapi"
  | "metrics"
  | "toolsStatus"
  | "deployTool"
  | "removeTool"
  | "startTool"
  | "stopTool"
  | McpServerRouteId
  | "mcpDiscovery"
  | "deployMcpGroup"
  | "removeMcpGroup"
  | AgentAccessRouteId
  | "audit"

export interface QueryParam {
  readonly name: string
  readonly description: string
  /** JSON Schema of the value. */
  readonly schema: Readonly<Record<string, unknown>>
}

export interface RouteSpec {
  readonly id: RouteId
  readonly method: "GET" | "POST" | "DELETE"
  /** Koa form: `/tools/:name`. */
  readonly path: string
  readonly summary: string
  readonly description?: string
  readonly query?: ReadonlyArray<QueryParam>
  /** Public routes need no bearer token. */
  readonly public: boolean
  /** The schema the handler validates its JSON body with. */
  readonly body?: z.ZodType
  readonly responses: Readonly<Record<number, string>>
}

const manage = (verb: string, done: string): Readonly<Record<number, string>> => ({
  200: done,
  401: "Missing or malformed Authorization header",
  403: "Unknown token",
  404: "Tool instance not found or not managed by this DTMA",
  502: `The container runtime could not ${verb} the container`,
  503: "The container runtime is unreachable",
})

/** Every route of the API: the router, the auth rule and the OpenAPI document are built from it. */
export const ROUTES: ReadonlyArray<RouteSpec> = [
  { id: "health", method: "GET", path: "/health", summary: "Liveness: text OK", public: true, responses: { 200: "OK" } },
  {
    id: "status",
    method: "GET",
    path: "/status",
    summary: "Managed tool instances and host metrics (legacy union shape)",
    public: true,
    responses: { 200: "Status", 503: "The container runtime is unreachable" },
  },
  {
    id: "openapi",
    method: "GET",
    path: "/openapi.json",
    summary: "This document",
    public: false,
    responses: { 200: "OpenAPI 3.1 document", 401: "Missing or malformed Authorization header", 403: "Unknown token" },
  },
  {
    id: "metrics",
    method: "GET",
    path: "/metrics",
    summary: "Prometheus metrics",
    public: false,
    responses: { 200: "Prometheus text format", 401: "Missing or malformed Authorization header", 403: "Unknown token" },
  },
  {
    id: "toolsStatus",
    method: "GET",
    path: "/tools/status",
    summary: "Same body as GET /status, behind auth",
    public: false,
    responses: { 200: "Status", 401: "Missing or malformed Authorization header", 403: "Unknown token", 503: "The container runtime is unreachable" },
  },
  {
    id: "deployTool",
    method: "POST",
    path: "/tools",
    summary: "Deploy a tool instance",
    public: false,
    body: deployToolBody,
    responses: {
      201: "Deployed",
      400: "Missing required fields or an invalid request",
      401: "Missing or malformed Authorization header",
      403: "Unknown token",
      409: "Name already managed, name used by an unmanaged container, or a host port conflict",
      413: "Body over 1 MB",
      415: "Body is not JSON",
      422: "Image not available",
      502: "The container runtime failed",
      503: "The container runtime is unreachable",
    },
  },
  { id: "removeTool", method: "DELETE", path: "/tools/:name", summary: "Remove a tool instance", public: false, responses: manage("remove", "Removed") },
  {
    id: "startTool",
    method: "POST",
    path: "/tools/:name/start",
    summary: "Start a tool instance",
    public: false,
    responses: manage("start", "Started or already running"),
  },
  { id: "stopTool", method: "POST", path: "/tools/:name/stop", summary: "Stop a tool instance", public: false, responses: manage("stop", "Stopped") },
  ...MCP_ROUTES,
  ...AGENT_ACCESS_ROUTES,
  {
    id: "audit",
    method: "GET",
    path: "/audit",
    summary: "The newest audit records, newest first: one per MCP request (refusals included) and per management request",
    description:
      "Each record: time, caller ({kind, sub, jti} for an agent, {kind, fingerprint} for an operator key, {kind: anonymous}), route, server, method, " +
      "name, outcome (ok, error, denied, rate_limited, cancelled, timeout), errorCode, durationMs, requestBytes, responseBytes, sessionId, traceId. " +
      "Never an argument, a result or a token. The answer is {success: true, data: {records: [...]}}.",
    public: false,
    query: [
      { name: "agentId", description: "Only this agent's requests", schema: { type: "string", minLength: 1, maxLength: 128 } },
      { name: "server", description: "Only requests that addressed this instance", schema: { type: "string", minLength: 1, maxLength: 200 } },
      { name: "since", description: "Only records answered at or after this time (ISO 8601, with a zone)", schema: { type: "string", format: "date-time" } },
      { name: "limit", description: "How many records at most", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
    ],
    responses: {
      200: "The records",
      400: "An unknown parameter, one given twice, since not an ISO 8601 date and time, or limit outside 1..1000",
      401: "Missing or malformed Authorization header",
      403: "Unknown token",
      503: "The audit log could not be read",
    },
  },
]

const trimSlash = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, "") : path)

/** A route path as a pattern over raw paths, as the router reads it: a `:param` is one segment, letter case does not count. */
const patternOf = (path: string): RegExp => {
  const literal = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  return new RegExp(`^${literal.replace(/:[A-Za-z0-9_]+/g, "[^/]+")}$`, "i")
}

const PUBLIC = ROUTES.filter((r) => r.public).map((r) => ({ method: r.method, pattern: patternOf(r.path) }))

/** Whether a request may pass without a bearer token (HEAD counts as GET). */
export const isPublicRequest = (method: string, path: string): boolean => {
  const asked = method === "HEAD" ? "GET" : method
  const trimmed = trimSlash(path)
  return PUBLIC.some((r) => r.method === asked && r.pattern.test(trimmed))
}
