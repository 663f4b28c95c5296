import * as Data from "effect/Data"

/** A new client session would pass the proxy's bound on sessions, of one server or in all. */
export class SessionLimitReached extends Data.TaggedError("SessionLimitReached")<{
  readonly name: string
  readonly limit: number
  readonly scope: "per_server" | "total"
}> {
  override get message(): string {
    return this.scope === "per_server"
      ? `MCP server '${this.name}' has ${this.limit} client sessions, the most this DTMA keeps per server (DTMA_MCP_MAX_SESSIONS_PER_SERVER); ` +
          "end one (DELETE) or retry later."
      : `This DTMA has ${this.limit} client sessions, the most it keeps (DTMA_MCP_MAX_SESSIONS); end one (DELETE) or retry later.`
  }
}
