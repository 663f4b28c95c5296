import { TokenRefused, type TokenProblem } from "@dtma/domain"

/** Thrown by a key set when its issuer's keys cannot be had (fetch failed, file unreadable, not a JWKS). */
export class KeysUnavailable extends Error {
  readonly detail: string
  constructor(detail: string) {
    super(detail)
    this.detail = detail
  }
}

const refused = (reason: TokenProblem, detail: string) => new TokenRefused({ reason, detail })

/**
 * jose's error codes → refusals, with fixed details of our own: never jose's message, nor anything
 * read from the token (a detail ends up in `WWW-Authenticate` and in logs).
 */
const BY_CODE: Readonly<Record<string, TokenRefused>> = {
  ERR_JWS_INVALID: refused("malformed", "not a signed JWT in compact form"),
  ERR_JWT_INVALID: refused("malformed", "not a signed JWT with a JSON claims set"),
  ERR_JOSE_NOT_SUPPORTED: refused("malformed", "uses a header or key type this DTMA does not support"),
  ERR_JOSE_ALG_NOT_ALLOWED: refused("disallowed_algorithm", "signed with an algorithm other than EdDSA (Ed25519), ES256 or RS256"),
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: refused("bad_signature", "the signature does not match the token"),
  ERR_JWKS_NO_MATCHING_KEY: refused("unknown_key", "no key of its issuer matches the token's key id and algorithm"),
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: refused("unknown_key", "several keys of its issuer match and none verifies the token"),
  ERR_JWT_EXPIRED: refused("expired", "the token has expired"),
}

const BY_CLAIM: Readonly<Record<string, TokenRefused>> = {
  iss: refused("wrong_issuer", "the token's issuer is not one this DTMA trusts"),
  aud: refused("wrong_audience", "the token is not meant for this DTMA (aud)"),
  nbf: refused("not_yet_valid", "the token is not valid yet (nbf)"),
}

/** The refusal for anything `jwtVerify` (or a key set) threw. An error we do not know is a refusal too. */
export const refusalOf = (error: unknown): TokenRefused => {
  if (error instanceof TokenRefused) return error
  if (error instanceof KeysUnavailable) return refused("keys_unavailable", error.detail)
  const { code, claim, reason } = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; claim?: unknown; reason?: unknown }
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && typeof claim === "string") {
    if (reason === "missing") return refused("invalid_claims", `the token has no '${claim}' claim`)
    return BY_CLAIM[claim] ?? refused("invalid_claims", `the token's '${claim}' claim is not valid`)
  }
  if (code === "ERR_JWKS_INVALID" || code === "ERR_JWKS_TIMEOUT" || code === "ERR_JWK_INVALID")
    return refused("keys_unavailable", "its issuer's key set could not be used")
  return (typeof code === "string" ? BY_CODE[code] : undefined) ?? refused("malformed", "the token could not be verified")
}
