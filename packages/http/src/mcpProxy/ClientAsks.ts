import * as Effect from "effect/Effect"
import {
  ErrorCodes,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type ServerRequest,
  type ServerRequestAnswer,
} from "@dtma/domain"
import { isObject } from "./isObject.ts"

/** Where a request to the client goes: the event stream answering the client request it is about. */
export interface AskChannel {
  /** Writes `message` to the client; false when it cannot be written any more. */
  send(message: JsonRpcRequest | JsonRpcNotification): boolean
}

const refused = (message: string): ServerRequestAnswer => ({ error: { code: ErrorCodes.MethodNotFound, message } })

/**
 * Why a client that declared `capabilities` in its `initialize` cannot be asked `request`, or null.
 * Form elicitation needs `elicitation` (empty, as 2025-06-18 declares it, or with `form`), URL
 * elicitation `elicitation.url`, sampling `sampling`, roots `roots`; nothing else is relayed.
 */
export const missingCapability = (capabilities: Readonly<Record<string, unknown>>, request: ServerRequest): string | null => {
  const lacks = (capability: string) => `the client did not declare the ${capability} capability in its initialize`
  switch (request.method) {
    case "sampling/createMessage":
      return isObject(capabilities["sampling"]) ? null : lacks("sampling")
    case "roots/list":
      return isObject(capabilities["roots"]) ? null : lacks("roots")
    case "elicitation/create": {
      const elicitation = capabilities["elicitation"]
      if (!isObject(elicitation)) return lacks("elicitation")
      if (request.params?.["mode"] === "url") return isObject(elicitation["url"]) ? null : lacks("elicitation.url")
      return Object.keys(elicitation).length === 0 || isObject(elicitation["form"]) ? null : lacks("elicitation.form")
    }
    default:
      return `the DTMA relays only sampling/createMessage, elicitation/create and roots/list to clients, not ${request.method}`
  }
}

/**
 * The requests the DTMA has sent one client session on behalf of its servers, until answered: each
 * under an id of the DTMA's (`dtma-<n>`), so that only an answer posted in this session, to a
 * request still asked, reaches the server that asked.
 */
export class ClientAsks {
  readonly #waiting = new Map<JsonRpcId, (response: JsonRpcResponse) => void>()
  #count = 0

  /**
   * Asks the client on `channel`, if its `capabilities` allow; resolves with its answer. Interrupted
   * (the client request ended, the server withdrew it, time is up), it tells the client it is cancelled.
   */
  ask(channel: AskChannel, capabilities: Readonly<Record<string, unknown>>, request: ServerRequest): Effect.Effect<ServerRequestAnswer> {
    return Effect.callback<ServerRequestAnswer>((resume) => {
      const missing = missingCapability(capabilities, request)
      if (missing !== null) return resume(Effect.succeed(refused(missing)))
      const id = `dtma-${++this.#count}`
      const message: JsonRpcRequest = request.params === undefined ? { jsonrpc: "2.0", id, method: request.method } : { jsonrpc: "2.0", id, ...request }
      if (!channel.send(message)) return resume(Effect.succeed(refused("the client's request it is about has no open answer to ask on")))
      this.#waiting.set(id, (response) => resume(Effect.succeed("result" in response ? { result: response.result } : { error: response.error })))
      return Effect.sync(() => {
        if (!this.#waiting.delete(id)) return
        channel.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "The server no longer needs the answer" } })
      })
    })
  }

  /** Whether `response` answers a request still asked in this session. */
  expects(response: JsonRpcResponse): boolean {
    return response.id !== null && this.#waiting.has(response.id)
  }

  /** Hands the client's answer to whoever asked; false when no request of this session waits for it. */
  answer(response: JsonRpcResponse): boolean {
    const waiting = response.id === null ? undefined : this.#waiting.get(response.id)
    if (waiting === undefined || response.id === null) return false
    this.#waiting.delete(response.id)
    waiting(response)
    return true
  }
}
