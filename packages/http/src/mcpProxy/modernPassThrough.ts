import { ErrorCodes, withEnvelope, type JsonRpcRequest, type JsonRpcResponse } from "@dtma/domain"
import { isObject } from "./isObject.ts"
import { REQUEST_STATE_SEAL, type RequestStateSeal } from "./requestStateSeal.ts"

// A 2026-07-28 client's request to a server that speaks 2026-07-28 itself: the envelope the edge
// kept aside goes back on, and the server's `requestState` is sealed to that server and caller on
// its way to the client and opened on its way back (`requestStateSeal.ts`).

/** What a sealed state is bound to: the server (the instance the request reached) and the caller. */
export const stateBinding = (server: string, owner: string): string => `${server}\n${owner}`

/** The request as the server takes it, or the answer refusing a `requestState` that was not sealed to this server and caller. */
export const passedThrough = (
  request: JsonRpcRequest,
  envelope: Readonly<Record<string, unknown>>,
  binding: string,
  seal: RequestStateSeal = REQUEST_STATE_SEAL,
): { readonly request: JsonRpcRequest } | { readonly refused: JsonRpcResponse } => {
  const enveloped = withEnvelope(request, envelope)
  const sealed = enveloped.params?.["requestState"]
  if (sealed === undefined) return { request: enveloped }
  const state = typeof sealed === "string" ? seal.open(sealed, binding) : null
  if (state === null) {
    const message = "Invalid params: requestState was not issued through the DTMA by this server to this caller, or was altered"
    return { refused: { jsonrpc: "2.0", id: request.id, error: { code: ErrorCodes.InvalidParams, message } } }
  }
  return { request: { ...enveloped, params: { ...enveloped.params, requestState: state } } }
}

/** The server's answer with its `requestState`, if any, sealed to `binding`. */
export const sealedAnswer = (response: JsonRpcResponse, binding: string, seal: RequestStateSeal = REQUEST_STATE_SEAL): JsonRpcResponse => {
  if (!("result" in response) || !isObject(response.result) || typeof response.result["requestState"] !== "string") return response
  return { ...response, result: { ...response.result, requestState: seal.seal(response.result["requestState"], binding) } }
}
