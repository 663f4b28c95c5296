import * as Effect from "effect/Effect"
import { ErrorCodes, type JsonRpcRequest, type JsonRpcResponse } from "./jsonrpc.ts"
import { inputRequiredOf, legacyResponse, retriedWith, type InputRequired } from "./modernUpstream.ts"
import type { ServerRequestAnswer, ServerRequestRelay } from "./UpstreamSession.ts"

/** Rounds of questions one request may take before the DTMA stops retrying it (mrtr.mdx lets a server ask again). */
export const MAX_INPUT_ROUNDS = 10

const failed = (request: JsonRpcRequest, code: number, message: string): JsonRpcResponse => ({ jsonrpc: "2.0", id: request.id, error: { code, message } })

/** Each of the server's questions asked of the client at once; the client's answers by key, or the first error of one. */
const askAll = (relay: ServerRequestRelay, input: InputRequired) =>
  Effect.forEach(
    input.inputRequests,
    ([key, asked]) =>
      relay.ask(asked).pipe(
        Effect.timeoutOrElse({
          duration: relay.timeoutMs,
          orElse: (): Effect.Effect<ServerRequestAnswer> =>
            Effect.succeed({ error: { code: ErrorCodes.RequestTimeout, message: `the client did not answer ${asked.method} within ${relay.timeoutMs} ms` } }),
        }),
        Effect.map((answer) => [key, asked.method, answer] as const),
      ),
    { concurrency: "unbounded" },
  )

/**
 * A 2025-era client's request to a server that speaks only 2026-07-28, answered whole. When the server
 * answers `input_required` (mrtr.mdx), the DTMA puts each of its `inputRequests` to the client as the
 * 2025-era wire does (an elicitation, sampling or roots request on the client's session: `relay`,
 * which refuses what the client did not declare), then retries the request — the same method and
 * arguments under a new upstream id (`roundTrip`) — with the client's answers and the server's
 * `requestState` as given, until the server answers otherwise; at most `MAX_INPUT_ROUNDS` rounds. A
 * question the client refuses, fails or leaves unanswered ends the request with its error. The
 * answer comes back as a 2025-era client reads it (`legacyResponse`).
 */
export const answeredWithInput = <E>(
  request: JsonRpcRequest,
  relay: ServerRequestRelay | undefined,
  roundTrip: (request: JsonRpcRequest) => Effect.Effect<JsonRpcResponse, E>,
): Effect.Effect<JsonRpcResponse, E> => {
  const round = (sent: JsonRpcRequest, rounds: number): Effect.Effect<JsonRpcResponse, E> =>
    Effect.flatMap(roundTrip(sent), (response) => {
      const input = inputRequiredOf(response)
      if (input === null || relay === undefined) return Effect.succeed(legacyResponse(request.method, response))
      if (input === "malformed") {
        return Effect.succeed(
          failed(request, ErrorCodes.InternalError, `the server answered ${request.method} input_required without valid inputRequests or requestState`),
        )
      }
      if (rounds >= MAX_INPUT_ROUNDS) {
        return Effect.succeed(
          failed(request, ErrorCodes.InternalError, `the server still asked for input to ${request.method} after ${MAX_INPUT_ROUNDS} rounds of answers`),
        )
      }
      return Effect.flatMap(askAll(relay, input), (answers) => {
        for (const [, method, answer] of answers) {
          if ("error" in answer)
            return Effect.succeed(
              failed(request, answer.error.code, `the server asked the client ${method} before it could answer ${request.method}: ${answer.error.message}`),
            )
        }
        const responses =
          input.inputRequests.length === 0 ? null : Object.fromEntries(answers.map(([key, , answer]) => [key, "result" in answer ? answer.result : {}]))
        return round(retriedWith(request, responses, input.requestState), rounds + 1)
      })
    })
  return round(request, 0)
}
