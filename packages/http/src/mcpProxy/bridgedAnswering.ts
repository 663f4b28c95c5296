import type { CallerIdentity, JsonRpcRequest, JsonRpcResponse } from "@dtma/domain"
import { EXPIRY_GRACE_MS } from "./HeldCalls.ts"
import { askModernClient, inputRequiredResponse, isRetry, MRTR_METHODS, type ModernCall } from "./modernExchange.ts"
import { MrtrCall, type Front } from "./MrtrCall.ts"
import { principalOf } from "./requestStateSeal.ts"
import type { Answering } from "./SessionReach.ts"
import type { ProxyTimers } from "./timers.ts"

export interface BridgedRequest {
  readonly request: JsonRpcRequest
  readonly modern: ModernCall
  /** The endpoint it came to (a server's name, or `/mcp`) and the server it goes to (null: none, the DTMA answers). */
  readonly endpoint: string
  readonly server: string | null
  readonly caller: CallerIdentity
  /** How the session answers it, a final answer stamped complete. */
  readonly answering: Answering
  /** The session's answer as it is, not stamped: for `input_required`. */
  readonly finish: (response: JsonRpcResponse) => void
  readonly timers: ProxyTimers
  /** The call's own timeout (`requestTimeoutMs`): how long a server request may wait for the client's input, and past which no state lives. */
  readonly callTimeoutMs: number
}

/**
 * A 2026-07-28 request's answering, through the MRTR bridge where MRTR applies (`tools/call`,
 * `prompts/get`, `resources/read`): a first request becomes an `MrtrCall` (the server may ask its
 * client through it), a retry resumes the call its `requestState` names where it would have been
 * forwarded. Elsewhere a server's request is refused, as the revision allows no other.
 */
export const bridgedAnswering = (b: BridgedRequest): { readonly answering: Answering; readonly call: MrtrCall | null } => {
  const { request, modern, answering } = b
  if (!MRTR_METHODS.has(request.method))
    return { answering: { ...answering, serverRequests: { ...answering.serverRequests, ask: () => askModernClient(request.method) } }, call: null }
  const front: Front = {
    id: request.id,
    caller: b.caller,
    capabilities: modern.envelope.clientCapabilities,
    settle: answering.settle,
    inputRequired: (result) => b.finish(inputRequiredResponse(request.id, result, modern)),
    progress: answering.progress,
    logMessage: answering.logMessage,
  }
  const binding = { principal: principalOf(b.caller), place: `${b.endpoint} ${b.server ?? ""}`, method: request.method, params: request.params }
  if (isRetry(request)) {
    const retry = { requestState: request.params?.["requestState"], inputResponses: request.params?.["inputResponses"] }
    return { answering: { ...answering, resume: () => modern.held.resume(retry, binding, front) }, call: null }
  }
  const deadline = b.timers.now() + b.callTimeoutMs - EXPIRY_GRACE_MS
  const call = new MrtrCall({ binding, front, holder: modern.held, timers: b.timers, deadline })
  return { answering: call.answering(answering, b.callTimeoutMs), call }
}
