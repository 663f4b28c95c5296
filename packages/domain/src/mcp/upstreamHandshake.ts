import * as Effect from "effect/Effect"
import { ErrorCodes, type JsonRpcNotification } from "./jsonrpc.ts"
import { McpConnectFailed, type McpRequestFailed, type McpServerBusy } from "./mcpErrors.ts"
import { dtmaEnvelope, modernHello } from "./modernUpstream.ts"
import { RELAYED_CLIENT_CAPABILITIES, type ServerHello, type UpstreamOptions, type UpstreamSession } from "./UpstreamSession.ts"

/** What the handshake needs of the session it opens. */
export interface HandshakeDeps {
  readonly call: UpstreamSession["call"]
  readonly send: (notification: JsonRpcNotification) => Effect.Effect<void, McpConnectFailed>
  /** From now on the session speaks 2026-07-28 with this envelope (null: back to the 2025-era wire). */
  readonly speakModern: (envelope: Readonly<Record<string, unknown>> | null) => void
}

type InitializeFailure = McpRequestFailed | McpServerBusy | McpConnectFailed

const asConnectFailed = (e: InitializeFailure): McpConnectFailed =>
  e._tag === "McpConnectFailed" ? e : new McpConnectFailed({ reason: "protocol", detail: e.message })

/**
 * Whether a refused `initialize` may come from a server that speaks only 2026-07-28: a JSON-RPC
 * error (stdio; basic/versioning.mdx: "the server rejects `initialize` with a JSON-RPC error") or an
 * HTTP refusal of the message (Streamable HTTP: `400 Bad Request`). Not a timeout, a closed or
 * unreachable connection: those say nothing of the era.
 */
const mayBeModern = (e: InitializeFailure): boolean =>
  (e._tag === "McpRequestFailed" && e.error.code !== ErrorCodes.RequestTimeout) || (e._tag === "McpConnectFailed" && e.reason === "protocol")

const legacyHello = (result: Readonly<Record<string, unknown>>, options: UpstreamOptions): Effect.Effect<ServerHello, McpConnectFailed> => {
  const version = String(result["protocolVersion"] ?? "")
  if (!options.supportedProtocolVersions.includes(version)) {
    return Effect.fail(
      new McpConnectFailed({ reason: "protocol", detail: `the server answered protocol version '${version}', which the DTMA does not support` }),
    )
  }
  const info = (result["serverInfo"] ?? {}) as ServerHello["serverInfo"]
  return Effect.succeed({
    protocolVersion: version,
    capabilities: (result["capabilities"] ?? {}) as ServerHello["capabilities"],
    serverInfo: { ...info, name: String(info.name ?? "unknown"), version: String(info.version ?? "unknown") },
    instructions: typeof result["instructions"] === "string" ? result["instructions"] : null,
    result,
  })
}

/**
 * A server that refused `initialize` is asked `server/discover` with the DTMA's envelope: a result
 * listing 2026-07-28 makes the session modern; anything else fails with the refusal of `initialize`.
 */
const probeModern = (deps: HandshakeDeps, options: UpstreamOptions, refusal: InitializeFailure): Effect.Effect<ServerHello, McpConnectFailed> =>
  Effect.suspend(() => {
    const envelope = dtmaEnvelope(options.clientInfo)
    deps.speakModern(envelope)
    // Sent with its envelope, so its answer comes back whole (the server's name is in its `_meta`).
    return deps.call("server/discover", { _meta: envelope }, options.probeTimeoutMs ?? options.initializeTimeoutMs).pipe(
      Effect.map((discovered) => modernHello(discovered, options.protocolVersion)),
      Effect.orElseSucceed(() => null),
      Effect.flatMap((hello) => {
        if (hello !== null) return Effect.succeed(hello)
        deps.speakModern(null)
        return Effect.fail(asConnectFailed(refusal))
      }),
    )
  })

/**
 * Opens the session as today — `initialize`, then `notifications/initialized` — so every server that
 * answers `initialize` (2025-era and dual-era alike) is used as before, without an extra message.
 * Only a server that refuses `initialize` is probed for 2026-07-28 (the spec's probe, taken in the
 * other order: basic/versioning.mdx, "Backward Compatibility with Initialization-Based Versions").
 */
export const handshake = (deps: HandshakeDeps, options: UpstreamOptions): Effect.Effect<ServerHello, McpConnectFailed> =>
  deps
    .call(
      "initialize",
      { protocolVersion: options.protocolVersion, capabilities: RELAYED_CLIENT_CAPABILITIES, clientInfo: options.clientInfo },
      options.initializeTimeoutMs,
    )
    .pipe(
      Effect.matchEffect({
        onFailure: (e) => (mayBeModern(e) ? probeModern(deps, options, e) : Effect.fail(asConnectFailed(e))),
        onSuccess: (result) => legacyHello(result, options).pipe(Effect.tap(() => deps.send({ jsonrpc: "2.0", method: "notifications/initialized" }))),
      }),
    )
