import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { ErrorCodes, InstanceNotFound, type JsonRpcRequest, type JsonRpcResponse, type McpConnectFailed, type McpServerBusy, type UpstreamSession } from "@dtma/domain"
import type { PendingAnswer } from "./PendingAnswer.ts"
import { initializeResult } from "./protocolVersion.ts"
import type { ProxyFailure } from "./proxyErrorTable.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { McpProxySettings } from "./settings.ts"

export interface AnswerContext {
  readonly sessionId: string
  readonly request: JsonRpcRequest
  readonly answer: PendingAnswer
  readonly hub: ServerHub
  readonly settings: McpProxySettings
}

const failure = (id: JsonRpcRequest["id"], code: number, message: string): JsonRpcResponse => ({ jsonrpc: "2.0", id, error: { code, message } })

const errorOf = <E>(cause: Cause.Cause<E>): E | null => Option.getOrNull(Cause.findErrorOption(cause))

/**
 * Forwards the request upstream as a fiber the answer can interrupt (the domain then cancels it
 * upstream). A saturated server refuses at once, synchronously: that is returned, not answered.
 */
const forward = (c: AnswerContext, upstream: UpstreamSession, settled?: (ok: boolean) => void): ProxyFailure | null => {
  const fiber = Effect.runFork(upstream.forward(c.sessionId, c.request, { timeoutMs: c.settings.requestTimeoutMs, onProgress: (n) => c.answer.progress(n) }))
  const finish = (exit: Exit.Exit<JsonRpcResponse, McpServerBusy | McpConnectFailed>): void => {
    settled?.(Exit.isSuccess(exit) && !("error" in exit.value))
    if (Exit.isSuccess(exit)) return c.answer.answer(exit.value)
    const error = errorOf(exit.cause)
    if (error !== null) c.answer.answer(failure(c.request.id, error._tag === "McpServerBusy" ? ErrorCodes.ServerBusy : ErrorCodes.ConnectionClosed, error.message))
    else if (!Cause.hasInterruptsOnly(exit.cause)) c.answer.answer(failure(c.request.id, ErrorCodes.InternalError, "Internal error in the DTMA"))
  }
  const now = fiber.pollUnsafe()
  const busy = now !== undefined && Exit.isFailure(now) ? errorOf(now.cause) : null
  if (busy?._tag === "McpServerBusy") {
    settled?.(false)
    return busy
  }
  if (now === undefined) fiber.addObserver(finish)
  else finish(now)
  c.answer.onCancel(() => fiber.interruptUnsafe())
  return null
}

const uriOf = (request: JsonRpcRequest): string => String(request.params?.["uri"] ?? "")

/**
 * Answers one client request: `initialize` and `ping` locally, resource (un)subscriptions shared
 * per uri, everything else forwarded. Returns why it is refused, or null once it is under way.
 */
export const answerRequest = (c: AnswerContext): ProxyFailure | null => {
  const { request, answer, hub } = c
  const ok = (result: Readonly<Record<string, unknown>>): null => {
    answer.answer({ jsonrpc: "2.0", id: request.id, result })
    return null
  }
  if (request.method === "ping") return ok({})
  const upstream = hub.upstream()
  if (Exit.isFailure(upstream)) return errorOf(upstream.cause) ?? new InstanceNotFound({ name: hub.name })
  const session = upstream.value
  switch (request.method) {
    case "initialize":
      return ok(initializeResult(session.hello, request.params?.["protocolVersion"], c.settings.supportedProtocolVersions))
    case "resources/subscribe": {
      const uri = uriOf(request)
      if (!hub.subscriptions.add(uri, c.sessionId)) return ok({})
      return forward(c, session, (subscribed) => {
        if (!subscribed) hub.subscriptions.remove(uri, c.sessionId)
      })
    }
    case "resources/unsubscribe":
      // Not the last subscriber (or not subscribed at all): the upstream stays subscribed.
      return hub.subscriptions.remove(uriOf(request), c.sessionId) ? forward(c, session) : ok({})
    default:
      return forward(c, session)
  }
}
