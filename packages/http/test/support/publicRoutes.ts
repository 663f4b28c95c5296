/**
 * The routes anyone may call without a token: the legacy contract's `/health` and `/status`, and the
 * agent-access spec's well-known documents. Every other route, MCP endpoints included, needs one.
 */
export const PUBLIC_ROUTES: ReadonlyArray<string> = [
  "GET /health",
  "GET /status",
  "GET /.well-known/jwks.json",
  "GET /.well-known/oauth-protected-resource",
  "GET /.well-known/oauth-protected-resource/mcp",
  "GET /.well-known/oauth-protected-resource/mcp-servers/:name/mcp",
]
