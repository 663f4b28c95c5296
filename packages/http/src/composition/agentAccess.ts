import { join } from "node:path"
import * as Effect from "effect/Effect"
import { makeFileAgentTokenIssuer, makeFileRevocationStore, makeJoseAccessTokens, REVOCATIONS_FILE, SIGNING_KEYS_FILE, trustedIssuerOf } from "@dtma/adapters"
import { makeAgentAccess, makeAgentRevocations, type AgentAccess, type IssuerKeysFailed, type RevocationStoreFailed } from "@dtma/domain"
import type { Config } from "./config.ts"

/** How long after `exp` (and before `nbf`) a token is still accepted. */
export const TOKEN_LEEWAY_SECONDS = 30

/**
 * Agent access over the state directory: the built-in issuer's Ed25519 keys (made at first start,
 * kept 0600) and the revocations (no secret in them), both surviving a restart; tokens verified
 * with jose against the built-in issuer and the configured external ones. A damaged key or
 * revocations file stops the start rather than being replaced.
 */
export const makeFileAgentAccess = (config: Config): Effect.Effect<AgentAccess, IssuerKeysFailed | RevocationStoreFailed> =>
  Effect.gen(function* () {
    const { access } = config
    const window = { maxTokenLifetimeMs: access.maxTokenTtlSeconds * 1000, leewayMs: TOKEN_LEEWAY_SECONDS * 1000 }
    const issuer = yield* makeFileAgentTokenIssuer({
      path: join(config.stateDir, SIGNING_KEYS_FILE),
      issuer: access.resourceUrl,
      audience: access.resourceUrl,
      maxTtlSeconds: access.maxTokenTtlSeconds,
      leewaySeconds: TOKEN_LEEWAY_SECONDS,
    })
    const revocations = yield* makeAgentRevocations({ store: makeFileRevocationStore({ path: join(config.stateDir, REVOCATIONS_FILE) }), window })
    const tokens = makeJoseAccessTokens({
      audience: access.resourceUrl,
      issuers: [trustedIssuerOf(issuer), ...access.issuers],
      revocations,
      leewaySeconds: TOKEN_LEEWAY_SECONDS,
      maxTokenLifetimeSeconds: access.maxTokenTtlSeconds,
    })
    return makeAgentAccess({ tokens, issuer, revocations, externalIssuers: access.issuers.map((i) => i.issuer) })
  })
