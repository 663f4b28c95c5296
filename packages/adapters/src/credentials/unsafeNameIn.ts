import { isSafeSegment, type OAuthCredential } from "@dtma/domain"

/** The provider directory that would collide with the per-connection directories. */
const RESERVED_PROVIDER = "connections"

/**
 * What makes these credentials impossible to lay out as files, or null: a provider or connection
 * id that is not one safe path segment (`..`, `a/b`, spaces), or a provider named `connections`.
 * The message names the id (an id is not a secret), never a token.
 */
export const unsafeNameIn = (credentials: ReadonlyArray<OAuthCredential>): string | null => {
  for (const c of credentials) {
    if (!isSafeSegment(c.provider)) return `provider ${JSON.stringify(c.provider)} cannot name a directory`
    if (c.provider === RESERVED_PROVIDER) return `provider '${RESERVED_PROVIDER}' would collide with the connections directory`
    if (!isSafeSegment(c.connectionId)) return `connection id ${JSON.stringify(c.connectionId)} cannot name a directory`
  }
  return null
}
