import { SERVER_SCOPE } from "@dtma/domain"

/** Whose metadata: the DTMA as a whole, the agent endpoint `/mcp`, or one server's endpoint `/mcp-servers/:name/mcp`. */
export type MetadataSubject = { readonly kind: "dtma" } | { readonly kind: "agent_endpoint" } | { readonly kind: "mcp_server"; readonly name: string }

/** RFC 9728 §2, the members the DTMA publishes. */
export interface ProtectedResourceMetadata {
  readonly resource: string
  readonly authorization_servers: ReadonlyArray<string>
  readonly bearer_methods_supported: ReadonlyArray<"header">
  readonly scopes_supported: ReadonlyArray<string>
  readonly resource_name: string
}

const NAMES: Readonly<Record<Exclude<MetadataSubject["kind"], "mcp_server">, string>> = {
  dtma: "DTMA (Droplet Tool Management Agent)",
  agent_endpoint: "DTMA agent endpoint (/mcp)",
}

/**
 * The protected-resource metadata of an MCP endpoint of this DTMA.
 *
 * `resource` is the DTMA's resource identifier for every endpoint, not the endpoint's own URL: it is
 * the audience every agent token must carry (RFC 8707), one per DTMA, so a token is good on each
 * endpoint its grants allow. RFC 9728 §3.3 wants the identifier the client derived the metadata URL
 * from; the MCP SDK's client accepts a `resource` that is a path prefix of the server URL on the same
 * origin (`checkResourceAllowed`), which this one is, and asks its authorization server for a token
 * for it.
 *
 * A server's document depends on the name in the URL only, never on what is deployed, so that it
 * tells nobody which servers exist; the other documents name no server at all (`scopes_supported`
 * is empty: a grant names a server, and these endpoints serve every server). The scope is the one
 * `parseGrantsScope` reads as a grant of the whole server.
 */
export const protectedResourceMetadataOf = (
  access: { readonly resourceUrl: string; readonly issuers: ReadonlyArray<string> },
  subject: MetadataSubject,
): ProtectedResourceMetadata => ({
  resource: access.resourceUrl,
  authorization_servers: access.issuers,
  bearer_methods_supported: ["header"],
  scopes_supported: subject.kind === "mcp_server" ? [`${SERVER_SCOPE}${encodeURIComponent(subject.name)}`] : [],
  resource_name: subject.kind === "mcp_server" ? `DTMA MCP server '${subject.name}'` : NAMES[subject.kind],
})
