import { createHash } from "node:crypto"
import type { OperatorIdentity } from "@dtma/domain"

/**
 * An operator key's fingerprint: the first 12 hex digits of its SHA-256. It names which key was
 * used (in the audit) without being the key; a key with little entropy could be guessed from it,
 * as from any hash of it, which is one more reason the generated and configured keys are long.
 */
export const operatorFingerprintOf = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12)

/** The operator holding `key`, known by its fingerprint. */
export const operatorOf = (key: string): OperatorIdentity => ({ kind: "operator", fingerprint: operatorFingerprintOf(key) })
