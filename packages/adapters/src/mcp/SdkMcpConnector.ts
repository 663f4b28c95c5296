import { newDockerode } from "../docker/newDockerode.ts"
import * as Effect from "effect/Effect"
import { SSEClientTransport, SseError } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { McpConnectFailed, type JsonRpcMessage, type McpChannel, type McpConnector, type McpEndpoint, type McpTarget } from "@dtma/domain"
import { dockerApiOf, type DockerApi } from "../docker/DockerApi.ts"
import { AttachStdioTransport, StdioFramingError } from "./AttachStdioTransport.ts"
import { awaitHttpReady } from "./awaitHttpReady.ts"
import { attachFailure, httpSendFailure, withDeadline } from "./connectFailures.ts"
import { encodeHeaderValue, modernHeaders } from "./modernHeaders.ts"
import { makeToolParamHeaders } from "./toolParamHeaders.ts"
import { makeRequestStreams } from "./requestStreams.ts"
import { makeResumeGuard } from "./resumeGuard.ts"
import { channelOf, type TransportChannelOptions } from "./transportChannel.ts"
import { problemReporter, type TransportProblem } from "./transportProblems.ts"

/** What the connector needs: a way to attach to containers, and tuning. */
export interface SdkMcpConnectorOptions {
  /** Attaches to stdio servers. */
  readonly docker: Pick<DockerApi, "attachContainer">
  /** Pause between readiness probes of a network server; default 100 ms. */
  readonly probeIntervalMs?: number
  /** The longest stdout line a stdio server may write; default 10 MiB. */
  readonly maxLineBytes?: number
  /**
   * Out-of-band transport problems (a bad stdout line, an event that is not a message, a failed
   * background stream), for the log: each with its kind and a short sentence, repeats of a kind on
   * one connection flagged. Nothing is reported for what the DTMA's own close breaks.
   */
  readonly onTransportProblem?: (target: McpTarget, problem: TransportProblem) => void
  /** How long `close` may spend ending a Streamable HTTP session; default 1 s. */
  readonly closeTimeoutMs?: number
}

const failed = (reason: McpConnectFailed["reason"], detail: string) => new McpConnectFailed({ reason, detail })

/** A network server's URL: its published port is reached on this host's loopback (never another address). */
export const urlOf = (transport: McpTarget["transport"], endpoint: McpEndpoint): URL =>
  new URL(`${transport === "websocket" ? "ws" : "http"}://127.0.0.1:${endpoint.hostPort}${endpoint.path}`)

/**
 * The `McpConnector` over the MCP SDK's client transports: a Docker attach stream for stdio, and
 * SSE, Streamable HTTP or WebSocket for network servers once they answer HTTP. It does no handshake.
 */
export const makeSdkMcpConnector = (options: SdkMcpConnectorOptions): McpConnector => {
  const closeTimeoutMs = options.closeTimeoutMs ?? 1_000

  const networkTransport = (target: McpTarget, url: URL): { transport: Transport; channel: TransportChannelOptions } => {
    switch (target.transport) {
      case "sse":
        // The event stream reconnects by itself into a new, uninitialised session: treat a broken stream as the end.
        return { transport: new SSEClientTransport(url), channel: { isFatal: (e) => e instanceof SseError, sendFailure: httpSendFailure } }
      case "websocket":
        return { transport: new WebSocketClientTransport(url), channel: {} }
      default: {
        const streams = makeRequestStreams()
        const guard = makeResumeGuard(streams.fetch)
        // A modern server's tools say which arguments its calls mirror in headers: learned from its listings as they pass.
        const params = makeToolParamHeaders(encodeHeaderValue)
        const transport = new StreamableHTTPClientTransport(url, { fetch: modernHeaders(guard.fetch, params.headersOf) })
        const beforeClose = () => withDeadline(transport.terminateSession(), Date.now() + closeTimeoutMs).then(() => undefined)
        const saw = (message: JsonRpcMessage) => {
          guard.saw(message)
          params.saw(message)
        }
        return {
          transport,
          channel: { beforeClose, sendFailure: httpSendFailure, sendOptions: guard.sendOptions, sent: params.sent, saw, unmark: streams.unmark },
        }
      }
    }
  }

  const open = async (target: McpTarget, timeoutMs: number, signal: AbortSignal): Promise<McpChannel> => {
    const deadline = Date.now() + timeoutMs
    const report = options.onTransportProblem
    const onError = report === undefined ? undefined : problemReporter((problem) => report(target, problem))
    let transport: Transport
    let channel: McpChannel
    if (target.transport === "stdio") {
      const attach = new AbortController()
      const attaching = options.docker.attachContainer(target.containerId, attach.signal)
      const stream = await withDeadline(attaching, deadline, signal).catch((error: unknown) => {
        attach.abort()
        // An attachment that completes after all is dropped, not leaked.
        attaching.then(
          (late) => late.destroy(),
          () => undefined,
        )
        throw attachFailure(target.containerId, error)
      })
      transport = new AttachStdioTransport(stream, options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes })
      // A dropped oversized line was most likely an answer: end the connection, so its caller hears at once.
      channel = channelOf(transport, { onError, isFatal: (e) => e instanceof StdioFramingError && e.lost })
    } else {
      if (target.endpoint === null) throw failed("unreachable", `a ${target.transport} server needs a published endpoint`)
      const url = urlOf(target.transport, target.endpoint)
      const notReady = await awaitHttpReady(url, { deadline, signal, intervalMs: options.probeIntervalMs ?? 100 })
      if (notReady !== null) throw failed(notReady.reason, notReady.detail)
      const network = networkTransport(target, url)
      transport = network.transport
      channel = channelOf(transport, { ...network.channel, onError })
    }
    try {
      await withDeadline(transport.start(), deadline, signal)
    } catch (error) {
      await Effect.runPromise(channel.close())
      throw error instanceof McpConnectFailed ? error : failed("unreachable", `the ${target.transport} connection failed: ${String(error)}`)
    }
    return channel
  }

  return {
    connect: (target, { timeoutMs }) =>
      Effect.tryPromise({
        try: (signal) => open(target, timeoutMs, signal),
        catch: (error) => (error instanceof McpConnectFailed ? error : failed("unreachable", String(error))),
      }),
  }
}

/** Attaching through the Docker daemon dockerode finds by default (`DOCKER_HOST`, else the local socket). */
export const sdkMcpConnectorFromEnv = (options: Omit<SdkMcpConnectorOptions, "docker"> = {}): McpConnector =>
  makeSdkMcpConnector({ ...options, docker: dockerApiOf(newDockerode()) })
