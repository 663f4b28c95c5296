import { createHash } from "node:crypto"
import type { AgentIdentity, OperatorIdentity } from "@dtma/domain"
import type { Context } from "koa"

/**
 * What the DTMA's middleware leaves in `ctx.state` for the layers after it; the one place these
 * fields are declared. `caller`: who the request is from, once its credential has been checked
 * (absent: not checked, or refused). `traceId`: the request's W3C trace id, once tracing has one.
 */
export interface RequestState {
  caller?: AgentIdentity | OperatorIdentity | undefined
  traceId?: string | undefined
}

/** The request's state, typed. */
export const stateOf = (ctx: Pick<Context, "state">): RequestState => ctx.state as RequestState

/**
 * An operator key's fingerprint: the first 12 hex digits of its SHA-256. It names which key was
 * used (in the audit) without being the key; a key with little entropy could be guessed from it,
 * as from any hash of it, which is one more reason the generated and configured keys are long.
 */
export const operatorFingerprintOf = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12)

/** The operator holding `key`, known by its fingerprint. */
export const operatorOf = (key: string): OperatorIdentity => ({ kind: "operator", fingerprint: operatorFingerprintOf(key) })
