import { STATUS_CODES } from "node:http"
import { CredentialFetchFailed, type CredentialProblem } from "@dtma/domain"
import { isTransientStatus, type BackendAnswer, type BackendUnreachable } from "./backendPost.ts"
import { connectionIdOf } from "./credentialsBody.ts"

const REASON_BY_STATUS: Readonly<Record<number, CredentialProblem>> = {
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "reauthorization_required",
}

const REFUSALS_NAMING_A_CONNECTION: ReadonlySet<CredentialProblem> = new Set(["forbidden", "not_found", "reauthorization_required"])

/** The problem a non-2xx status stands for; a status the API does not define is an invalid response. */
export const reasonOfStatus = (status: number): CredentialProblem =>
  REASON_BY_STATUS[status] ?? (isTransientStatus(status) ? "unavailable" : "invalid_response")

/**
 * A non-2xx answer as the port's error. Neither the body nor the backend's own reason phrase is
 * quoted (the status's standard phrase is), so no token the backend might echo reaches a message; a
 * refusal keeps the `connection_id` it names, and only when that is one of the connections asked for.
 */
export const failureOfAnswer = (path: string, answer: BackendAnswer, asked: ReadonlyArray<string> = []): CredentialFetchFailed => {
  const reason = reasonOfStatus(answer.status)
  const named = REFUSALS_NAMING_A_CONNECTION.has(reason) ? connectionIdOf(answer.text) : null
  return new CredentialFetchFailed({
    reason,
    connectionId: named !== null && asked.includes(named) ? named : null,
    detail: `${path} answered ${`${answer.status} ${STATUS_CODES[answer.status] ?? ""}`.trim()}`,
  })
}

/** A 2xx answer whose body does not fit the API. */
export const invalidBody = (path: string, answer: BackendAnswer, problem: string): CredentialFetchFailed =>
  new CredentialFetchFailed({ reason: "invalid_response", connectionId: null, detail: `${path} answered ${answer.status} but ${problem}` })

/** No answer at all, as the port's error. */
export const failureOfUnreachable = (path: string, e: BackendUnreachable): CredentialFetchFailed =>
  new CredentialFetchFailed({ reason: e.timedOut ? "timeout" : "unavailable", connectionId: null, detail: `${path}: ${e.detail}` })
