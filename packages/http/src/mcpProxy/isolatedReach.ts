import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import {
  ErrorCodes,
  InstanceNotFound,
  McpServerUnavailable,
  type IsolatedInstanceLimit,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type McpServers,
} from "@dtma/domain"
import { answerRequest, type Stop } from "./answerRequest.ts"
import { mayReceive } from "./grantedMessages.ts"
import { jsonRpcError, replyForFailure, type ProxyFailure } from "./proxyErrorTable.ts"
import { serverAccessOf } from "./requestAccess.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { ReachMember, SessionReach } from "./SessionReach.ts"
import type { McpProxySettings } from "./settings.ts"

export interface IsolatedAnswer {
  readonly mcpServers: Pick<McpServers, "instanceFor">
  /** The `per_agent` server, as the client knows it. */
  readonly server: string
  /** The caller's agent id (its token's `sub`). */
  readonly agent: string
  readonly hubFor: (name: string) => ServerHub
  readonly request: JsonRpcRequest
  readonly settle: (response: JsonRpcResponse | null) => void
  /** The hub of the agent's instance is known: the session may join it. */
  readonly onHub: (hub: ServerHub) => void
  /** Answers the request through the agent's instance's hub (`answerRequest`). */
  readonly answer: (hub: ServerHub) => ProxyFailure | Stop
  /** The answer to a failure that comes once the request has been taken (the instance could not be made). */
  readonly failureAnswer: (failure: ProxyFailure) => JsonRpcResponse
}

/** A failure of an agent's instance, named after its server: the instance's own name is the DTMA's. */
const named = (failure: ProxyFailure, server: string): ProxyFailure => {
  if (failure._tag === "McpServerUnavailable" && failure.name !== server) return new McpServerUnavailable({ ...failure, name: server })
  if (failure._tag === "InstanceNotFound" && failure.name !== server) return new InstanceNotFound({ name: server })
  return failure
}

const failureOf = (cause: Cause.Cause<InstanceNotFound | McpServerUnavailable | IsolatedInstanceLimit>) => Option.getOrNull(Cause.findErrorOption(cause))

/**
 * Answers an agent's request on a `per_agent` server through the agent's own instance, which
 * `McpServers.instanceFor` finds, or creates (the request waits until it is ready). Found at once, the
 * request goes on like any (a refusal is returned, refusing the POST); made meanwhile, what keeps it
 * from the request (the server stopped, at its most instances, the instance not starting) answers
 * the request with a JSON-RPC error naming the server. Either way the server is named, not the instance.
 */
export const answerIsolated = (c: IsolatedAnswer): ProxyFailure | Stop => {
  const fiber = Effect.runFork(c.mcpServers.instanceFor(c.server, c.agent))
  const through = (name: string): ProxyFailure | Stop => {
    const hub = c.hubFor(name)
    c.onHub(hub)
    const outcome = c.answer(hub)
    return typeof outcome === "function" ? outcome : named(outcome, c.server)
  }
  const now = fiber.pollUnsafe()
  if (now !== undefined) return Exit.isSuccess(now) ? through(now.value) : named(failureOf(now.cause) ?? new InstanceNotFound({ name: c.server }), c.server)
  let stop: Stop = () => fiber.interruptUnsafe()
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit)) {
      const failure = failureOf(exit.cause)
      if (failure !== null) c.settle(c.failureAnswer(named(failure, c.server)))
      else if (!Cause.hasInterruptsOnly(exit.cause)) c.settle(jsonRpcError(c.request.id, ErrorCodes.InternalError, "Internal error in the DTMA"))
      return
    }
    const outcome = through(exit.value)
    if (typeof outcome === "function") stop = outcome
    else c.settle(c.failureAnswer(outcome))
  })
  return () => stop()
}

/**
 * What a session of an agent on a `per_agent` server's endpoint reaches: the agent's own instance of
 * it, through that instance's hub, joined on the session's first request (the instance may not exist
 * before) and again whenever a new instance serves the agent (the last one went idle).
 */
export const isolatedReach = (deps: {
  readonly mcpServers: Pick<McpServers, "instanceFor">
  readonly server: string
  readonly agent: string
  readonly hubFor: (name: string) => ServerHub
  readonly settings: McpProxySettings
}): SessionReach => {
  const { server, agent, settings } = deps
  let joined: { readonly hub: ServerHub; readonly member: ReachMember } | null = null
  const join = (hub: ServerHub, member: ReachMember): void => {
    if (joined?.hub === hub) return
    joined?.hub.leave(joined.member)
    hub.join(member)
    joined = { hub, member }
  }
  return {
    name: server,
    server,
    route: (request, authorized, member) => ({
      server,
      request,
      answer: (routed, answering) =>
        answerIsolated({
          mcpServers: deps.mcpServers,
          server,
          agent,
          hubFor: deps.hubFor,
          request: routed,
          settle: answering.settle,
          onHub: (hub) => join(hub, member),
          answer: (hub) => answerRequest({ ...answering, request: routed, hub, settings, access: serverAccessOf(authorized) }),
          failureAnswer: (failure) => replyForFailure(failure, [routed.id]).body as JsonRpcResponse,
        }),
    }),
    join: () => undefined,
    leave: () => {
      joined?.hub.leave(joined.member)
      joined = null
    },
    // An agent's notifications reach no server (as on a shared server's endpoint).
    receive: () => undefined,
    mayReceive: (notification, authorized) => mayReceive(notification, serverAccessOf(authorized)),
  }
}
