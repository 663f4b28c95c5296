import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { ErrorCodes, InstanceNotFound, McpServerUnavailable, type IsolatedInstanceLimit, type JsonRpcResponse, type McpServers } from "@dtma/domain"
import type { Logger } from "../composition/logger.ts"
import { answerRequest, type AnswerContext, type Stop } from "./answerRequest.ts"
import { mayReceive } from "./grantedMessages.ts"
import { jsonRpcError, replyForFailure, type ProxyFailure } from "./proxyErrorTable.ts"
import { serverAccessOf } from "./requestAccess.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { ReachMember, SessionReach } from "./SessionReach.ts"
import type { McpProxySettings } from "./settings.ts"

/** What answering through the agents' own instances needs, from the proxy. */
export interface IsolatedDeps {
  readonly mcpServers: Pick<McpServers, "instanceFor">
  readonly hubFor: (name: string) => ServerHub
  readonly settings: McpProxySettings
  /** Where why an agent's instance cannot serve goes: the operator's log, never the agent. */
  readonly logger: Pick<Logger, "warn">
}

/** One request of an agent on a `per_agent` server, as `answerRequest` takes it (without the hub, which is the instance's). */
export interface IsolatedAnswer extends Omit<AnswerContext, "hub" | "settings"> {
  /** The `per_agent` server, as the client knows it. */
  readonly server: string
  /** The caller's agent id (its token's `sub`). */
  readonly agent: string
  /** The hub of the agent's instance is known: the session may join it. */
  readonly onHub: (hub: ServerHub) => void
  /** The answer to a failure that comes once the request has been taken (the instance could not be made). */
  readonly failureAnswer: (failure: ProxyFailure) => JsonRpcResponse
}

/**
 * A failure of an agent's instance as the agent is told it: named after its server (the instance's
 * own name is the DTMA's), and with only the server's state. Why (an instance's last stderr lines, a
 * runtime's or registry's error) is the operator's: it goes to the log.
 */
const toldAgent = (deps: IsolatedDeps, c: IsolatedAnswer, failure: ProxyFailure): ProxyFailure => {
  const { server } = c
  if (failure._tag === "InstanceNotFound" && failure.name !== server) return new InstanceNotFound({ name: server })
  if (failure._tag !== "McpServerUnavailable") return failure
  if (failure.detail !== null) {
    deps.logger.warn({ server, agent: c.agent, state: failure.health, detail: failure.detail }, "an agent's instance of a per_agent server cannot serve")
  }
  return failure.name === server && failure.detail === null ? failure : new McpServerUnavailable({ name: server, health: failure.health, detail: null })
}

const failureOf = (cause: Cause.Cause<InstanceNotFound | McpServerUnavailable | IsolatedInstanceLimit>) => Option.getOrNull(Cause.findErrorOption(cause))

/**
 * Answers an agent's request on a `per_agent` server through the agent's own instance, which
 * `McpServers.instanceFor` finds, or creates (the request waits until it is ready). Found at once, the
 * request goes on like any (a refusal is returned, refusing the POST); made meanwhile, what keeps it
 * from the request (the server stopped, at its most instances, the instance not starting) answers
 * the request with a JSON-RPC error naming the server. Either way the server is named, not the
 * instance, and the agent is told its state only (`toldAgent`).
 */
export const answerIsolated = (deps: IsolatedDeps, c: IsolatedAnswer): ProxyFailure | Stop => {
  const fiber = Effect.runFork(deps.mcpServers.instanceFor(c.server, c.agent))
  const through = (name: string): ProxyFailure | Stop => {
    const hub = deps.hubFor(name)
    c.onHub(hub)
    const outcome = answerRequest({ ...c, hub, settings: deps.settings })
    return typeof outcome === "function" ? outcome : toldAgent(deps, c, outcome)
  }
  const now = fiber.pollUnsafe()
  if (now !== undefined) return Exit.isSuccess(now) ? through(now.value) : toldAgent(deps, c, failureOf(now.cause) ?? new InstanceNotFound({ name: c.server }))
  let stop: Stop = () => fiber.interruptUnsafe()
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit)) {
      const failure = failureOf(exit.cause)
      if (failure !== null) c.settle(c.failureAnswer(toldAgent(deps, c, failure)))
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
 * before) — or, for a session that opens without one (a 2026-07-28 `subscriptions/listen`), when it
 * joins — and again whenever a new instance serves the agent (the last one went idle).
 */
export const isolatedReach = (deps: IsolatedDeps & { readonly server: string; readonly agent: string }): SessionReach => {
  const { server, agent } = deps
  let joined: { readonly hub: ServerHub; readonly member: ReachMember } | null = null
  /** The session routed a request: that request joins the instance, or says why there is none. */
  let asked = false
  let left = false
  const join = (hub: ServerHub, member: ReachMember): void => {
    if (left || joined?.hub === hub) return
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
      answer: (routed, answering) => {
        asked = true
        return answerIsolated(deps, {
          ...answering,
          request: routed,
          access: serverAccessOf(authorized),
          server,
          agent,
          onHub: (hub) => join(hub, member),
          failureAnswer: (failure) => replyForFailure(failure, [routed.id]).body as JsonRpcResponse,
        })
      },
    }),
    // A session that has not asked anything yet (a 2026-07-28 listen) joins the agent's instance as a
    // first call would: made if it has none (or not at all, past the server's most: then it hears nothing).
    join: (member) => {
      if (asked || joined !== null) return
      const fiber = Effect.runFork(deps.mcpServers.instanceFor(server, agent))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) join(deps.hubFor(exit.value), member)
      })
    },
    leave: () => {
      left = true
      joined?.hub.leave(joined.member)
      joined = null
    },
    // An agent's notifications reach no server (as on a shared server's endpoint).
    receive: () => undefined,
    mayReceive: (notification, authorized) => mayReceive(notification, serverAccessOf(authorized)),
  }
}
