import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import {
  ErrorCodes,
  InstanceNotFound,
  isModernHello,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type McpConnectFailed,
  type McpServerBusy,
  type UpstreamSession,
} from "@dtma/domain"
import { grantedListResult } from "./grantedLists.ts"
import { ungrantedAnswer } from "./grantedMessages.ts"
import { setLevelLocally } from "./logLevels.ts"
import { discoverResult } from "./modernExchange.ts"
import { passedThrough, sealedAnswer, stateBinding } from "./modernPassThrough.ts"
import { initializeResult } from "./protocolVersion.ts"
import type { ProxyFailure } from "./proxyErrorTable.ts"
import { EVERYTHING, type RequestAccess } from "./requestAccess.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { Answering } from "./SessionReach.ts"
import type { McpProxySettings } from "./settings.ts"

export interface AnswerContext extends Answering {
  readonly request: JsonRpcRequest
  readonly hub: ServerHub
  readonly settings: McpProxySettings
  /** What the request may reach on the server: what it may not is answered here, as if it did not exist, and lists show only the rest. */
  readonly access: RequestAccess
}

/** Stops a request under way (the domain cancels it upstream); nothing is answered after. */
export type Stop = () => void

export const NOTHING_TO_STOP: Stop = () => undefined

const failure = (id: JsonRpcRequest["id"], code: number, message: string): JsonRpcResponse => ({ jsonrpc: "2.0", id, error: { code, message } })

const errorOf = <E>(cause: Cause.Cause<E>): E | null => Option.getOrNull(Cause.findErrorOption(cause))

const answered = (c: AnswerContext, result: Readonly<Record<string, unknown>>): Stop => {
  c.settle({ jsonrpc: "2.0", id: c.request.id, result })
  return NOTHING_TO_STOP
}

/** What the client sees of a success: a list as the request's access shows it, anything else as it is. */
const shown = (c: AnswerContext, response: JsonRpcResponse): JsonRpcResponse =>
  c.access === EVERYTHING || !("result" in response) ? response : { ...response, result: grantedListResult(c.request.method, response.result, c.access) }

/**
 * Forwards the request upstream as a fiber that `Stop` interrupts (the domain then cancels it
 * upstream). A saturated server refuses at once, synchronously: that is returned, not answered.
 */
const forward = (c: AnswerContext, upstream: UpstreamSession, settled?: (ok: boolean) => void): ProxyFailure | Stop => {
  // A 2026-07-28 client's request goes to a 2026-07-28 server with its own envelope (its capabilities, log level, name).
  const binding = c.envelope !== undefined && isModernHello(upstream.hello) ? stateBinding(c.hub.name, c.stateOwner ?? "") : null
  const passed = binding === null ? { request: c.request } : passedThrough(c.request, c.envelope!, binding)
  if ("refused" in passed) {
    settled?.(false)
    c.settle(passed.refused)
    return NOTHING_TO_STOP
  }
  const fiber = Effect.runFork(
    upstream.forward(c.sessionId, passed.request, {
      timeoutMs: c.settings.requestTimeoutMs,
      onProgress: c.progress,
      onLogMessage: c.logMessage,
      serverRequests: c.serverRequests,
      logLevel: c.logLevel?.() ?? null,
    }),
  )
  const finish = (exit: Exit.Exit<JsonRpcResponse, McpServerBusy | McpConnectFailed>): void => {
    settled?.(Exit.isSuccess(exit) && !("error" in exit.value))
    if (Exit.isSuccess(exit)) return c.settle(shown(c, binding === null ? exit.value : sealedAnswer(exit.value, binding)))
    const error = errorOf(exit.cause)
    if (error !== null) c.settle(failure(c.request.id, error._tag === "McpServerBusy" ? ErrorCodes.ServerBusy : ErrorCodes.ConnectionClosed, error.message))
    else c.settle(Cause.hasInterruptsOnly(exit.cause) ? null : failure(c.request.id, ErrorCodes.InternalError, "Internal error in the DTMA"))
  }
  const now = fiber.pollUnsafe()
  const busy = now !== undefined && Exit.isFailure(now) ? errorOf(now.cause) : null
  if (busy?._tag === "McpServerBusy") {
    settled?.(false)
    return busy
  }
  if (now === undefined) fiber.addObserver(finish)
  else finish(now)
  return () => fiber.interruptUnsafe()
}

const uriOf = (request: JsonRpcRequest): string => String(request.params?.["uri"] ?? "")

/**
 * Answers one client request: `initialize`, `server/discover` and `ping` locally, what its access does not reach
 * locally as if it did not exist (`ungrantedAnswer`), an agent's `logging/setLevel` locally (the
 * level upstream is the shared connection's: only the operator sets it; to a server that speaks only
 * 2026-07-28, everyone's, sent with each of its requests instead), resource (un)subscriptions
 * shared per uri, everything else forwarded. Returns why it is refused, or how to stop it once under way.
 */
export const answerRequest = (c: AnswerContext): ProxyFailure | Stop => {
  const { request, hub } = c
  if (request.method === "ping") return answered(c, {})
  const upstream = hub.session()
  if (Exit.isFailure(upstream)) return errorOf(upstream.cause) ?? new InstanceNotFound({ name: hub.name })
  const session = upstream.value
  hub.carrySubscriptionsTo(session)
  const ungranted = c.access === EVERYTHING ? null : ungrantedAnswer(request, c.access, session.hello.capabilities)
  if (ungranted !== null) {
    c.settle(ungranted, "insufficient_scope")
    return NOTHING_TO_STOP
  }
  switch (request.method) {
    case "initialize":
      return answered(c, initializeResult(session.hello, request.params?.["protocolVersion"], c.settings.supportedProtocolVersions))
    case "server/discover":
      return answered(c, discoverResult(session.hello, c.settings))
    case "resources/subscribe": {
      const uri = uriOf(request)
      if (!hub.subscriptions.add(uri, c.sessionId)) return answered(c, {})
      return forward(c, session, (subscribed) => {
        if (!subscribed) hub.subscriptions.remove(uri, c.sessionId)
      })
    }
    case "logging/setLevel": {
      // A server that speaks only 2026-07-28 has no logging/setLevel: the level goes with each request.
      if (c.access === EVERYTHING && !isModernHello(session.hello)) return forward(c, session)
      const { answer, level } = setLevelLocally(request, session.hello.capabilities)
      if (level !== null) c.setLogLevel(level)
      c.settle(answer)
      return NOTHING_TO_STOP
    }
    case "resources/unsubscribe":
      // Not the last subscriber (or not subscribed at all): the upstream stays subscribed.
      return hub.subscriptions.remove(uriOf(request), c.sessionId) ? forward(c, session) : answered(c, {})
    default:
      // A retry resumes the call the MRTR bridge holds for a 2025-era server; a 2026-07-28 server takes its retry itself.
      return c.resume === undefined || isModernHello(session.hello) ? forward(c, session) : c.resume()
  }
}
