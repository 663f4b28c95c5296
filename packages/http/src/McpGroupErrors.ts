import * as Data from "effect/Data"
/** `POST /mcp/groups` with a group id this DTMA already deployed. */
export class McpGroupExists extends Data.TaggedError("McpGroupExists")<{ readonly groupId: string }> {
  override get message(): string {
    return `MCP server group '${this.groupId}' already exists.`
  }
}

/** A group id this DTMA does not know (groups are kept in memory: a restart forgets them). */
export class McpGroupNotFound extends Data.TaggedError("McpGroupNotFound")<{ readonly groupId: string }> {
  override get message(): string {
    return `MCP server group '${this.groupId}' not found; groups deployed before the DTMA last started are not kept, remove their servers through DELETE /mcp-servers/:name.`
  }
}
