import type { Context } from "koa"
import { quotable, resourceMetadataUrl } from "../server/auth.ts"
import { EdgeErrorCodes, refuseMcp } from "../server/mcpEndpoints.ts"

/** The OAuth scope that grants everything on server `name` (agent-access spec, "Access tokens"). */
export const serverScope = (name: string): string => `dtma:server:${encodeURIComponent(name)}`

/**
 * Refuses an agent whose token has no grant naming server `name`: `403 insufficient_scope`, with
 * the scope that would do and where the resource metadata is (RFC 6750 §3.1). It says nothing of
 * the server: the answer is the same, byte for byte, whether a server of that name exists or not.
 */
export const refuseUngrantedServer = (ctx: Context, name: string, resourceUrl: string): void => {
  const scope = serverScope(name)
  refuseMcp(ctx, {
    status: 403,
    code: EdgeErrorCodes.Forbidden,
    error: "insufficient_scope",
    message: `Forbidden: the access token grants nothing on the MCP server '${name}' (it needs a grant naming it, or the scope ${scope})`,
    headers: {
      "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${quotable(resourceMetadataUrl(resourceUrl, ctx.path))}"`,
    },
  })
}
