import { issueAgentTokenBody } from "../requests/agentAccessSchemas.ts"
import type { RouteSpec } from "./routeTable.ts"

export type AgentAccessRouteId =
  | "issueAgentToken"
  | "agentTokenKeys"
  | "rotateAgentTokenKey"
  | "revokeAgent"
  | "revokeAgentToken"
  | "protectedResourceMetadata"
  | "agentEndpointResourceMetadata"
  | "mcpServerResourceMetadata"

const AUTH = {
  401: "Missing or malformed Authorization header",
  403: "Unknown token, or an agent token (agent_token_not_allowed): these routes need an operator key",
} as const

const METADATA =
  "RFC 9728 protected-resource metadata: resource (the DTMA's resource identifier, the audience agent tokens must carry), " +
  'authorization_servers (the accepted issuers, the built-in one first), bearer_methods_supported ["header"], scopes_supported, resource_name.'

/** Agent access (agent-access spec, "Access tokens" and "On MCP endpoints"): the built-in issuer, revocation, and the metadata MCP clients discover. */
export const AGENT_ACCESS_ROUTES: ReadonlyArray<RouteSpec> = [
  {
    id: "issueAgentToken",
    method: "POST",
    path: "/agent-tokens",
    summary: "Issue an agent token (a JWT signed by the built-in issuer) with these grants",
    description:
      "Answers 201 with data.token, data.tokenId (its jti, to revoke it by) and data.expiresAt. The token value appears in this answer only: " +
      "never in a log line, and it cannot be read again. Grants are read as a token's grants claim is.",
    public: false,
    body: issueAgentTokenBody,
    responses: {
      201: "Issued",
      400: "A field missing or invalid, an unknown key, or grants the DTMA would refuse in a token (the error names the field)",
      ...AUTH,
      413: "Body over 1 MB",
      415: "Body is not JSON",
    },
  },
  {
    id: "agentTokenKeys",
    method: "GET",
    path: "/.well-known/jwks.json",
    summary: "The built-in issuer's public keys (JWKS): the current key and every rotated-out key a token still needs",
    public: true,
    responses: { 200: "A JSON Web Key Set, public parts only" },
  },
  {
    id: "rotateAgentTokenKey",
    method: "POST",
    path: "/agent-tokens/keys/rotate",
    summary: "Sign with a new key from now on; the old one keeps verifying until the last token it signed expires",
    public: false,
    responses: { 200: "Rotated: data.kid is the new key's id", ...AUTH, 503: "The new key could not be kept in the state directory; nothing changed" },
  },
  {
    id: "revokeAgent",
    method: "POST",
    path: "/agents/:agentId/revoke",
    summary: "Refuse every token of this agent issued up to now; survives a restart",
    public: false,
    responses: {
      200: "Revoked",
      400: "The agent id is not 1 to 128 characters",
      ...AUTH,
      503: "Refused from now on in this process, but not kept in the state directory: it would not survive a restart",
    },
  },
  {
    id: "revokeAgentToken",
    method: "DELETE",
    path: "/agent-tokens/:tokenId",
    summary: "Refuse one token, by its id (jti); survives a restart",
    public: false,
    responses: {
      200: "Revoked",
      400: "The token id is not 1 to 256 characters",
      ...AUTH,
      503: "Refused from now on in this process, but not kept in the state directory: it would not survive a restart",
    },
  },
  {
    id: "protectedResourceMetadata",
    method: "GET",
    path: "/.well-known/oauth-protected-resource",
    summary: "Protected-resource metadata of the DTMA",
    description: METADATA,
    public: true,
    responses: { 200: "The metadata" },
  },
  {
    id: "agentEndpointResourceMetadata",
    method: "GET",
    path: "/.well-known/oauth-protected-resource/mcp",
    summary: "Protected-resource metadata of the agent endpoint /mcp",
    description: METADATA,
    public: true,
    responses: { 200: "The metadata" },
  },
  {
    id: "mcpServerResourceMetadata",
    method: "GET",
    path: "/.well-known/oauth-protected-resource/mcp-servers/:name/mcp",
    summary: "Protected-resource metadata of /mcp-servers/:name/mcp",
    description: `${METADATA} The same document whether a server of that name is deployed or not.`,
    public: true,
    responses: { 200: "The metadata; scopes_supported is dtma:server:<percent-encoded name>", 400: "The name is over 200 characters: no server can have it" },
  },
]
