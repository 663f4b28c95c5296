import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import type { CredentialSource } from "@dtma/domain"
import { failureOf, run } from "../effects.ts"

/** A credential source under test, with connections the backend knows in each condition. */
export interface CredentialSourceSubject {
  readonly source: CredentialSource
  readonly agentId: string
  readonly accountToolInstanceId: string
  /** Connections that hand out tokens, with the provider and scopes the backend holds for them. */
  readonly connections: ReadonlyArray<{ readonly connectionId: string; readonly provider: string; readonly scopes: ReadonlyArray<string> }>
  /** A connection the backend does not know. */
  readonly unknownConnectionId: string
  /** A connection whose user must sign in again. */
  readonly reauthorizeConnectionId: string
  /** A standard tool's secrets as the backend holds them, null values included. */
  readonly toolSecrets: { readonly accountToolInstanceId: string; readonly secrets: Readonly<Record<string, string | null>> }
  readonly cleanup?: () => Promise<void>
}

/** Behaviour every CredentialSource must have; run on the fake always and on a backend double in the adapter's suite. */
export const credentialSourceContract = (label: string, setup: () => Promise<CredentialSourceSubject>): void => {
  describe(`CredentialSource contract: ${label}`, () => {
    const request = (s: CredentialSourceSubject, connectionIds: ReadonlyArray<string>) => ({
      agentId: s.agentId,
      accountToolInstanceId: s.accountToolInstanceId,
      connectionIds,
      requiredScopes: [],
    })

    it("hands out one credential per connection with its provider, scopes and expiry", async () => {
      const s = await setup()
      const credentials = await run(
        s.source.fetchOAuth(
          request(
            s,
            s.connections.map((c) => c.connectionId),
          ),
        ),
      )
      expect(credentials).toHaveLength(s.connections.length)
      for (const expected of s.connections) {
        const credential = credentials.find((c) => c.connectionId === expected.connectionId)
        expect(credential).toMatchObject({ provider: expected.provider, scopes: expected.scopes, tokenType: expect.any(String) })
        expect(credential?.expiresAt === null || typeof credential?.expiresAt === "number").toBe(true)
        expect(Redacted.value(credential!.accessToken).length).toBeGreaterThan(0)
      }
      await s.cleanup?.()
    })

    it("never shows a token when a credential is printed or serialised", async () => {
      const s = await setup()
      const [credential] = await run(s.source.fetchOAuth(request(s, [s.connections[0]!.connectionId])))
      const token = Redacted.value(credential!.accessToken)
      expect(JSON.stringify(credential)).not.toContain(token)
      expect(String(credential!.accessToken)).not.toContain(token)
      await s.cleanup?.()
    })

    it("refuses an unknown connection as not_found, naming it", async () => {
      const s = await setup()
      const error = await failureOf(s.source.fetchOAuth(request(s, [s.unknownConnectionId])))
      expect(error).toMatchObject({ _tag: "CredentialFetchFailed", reason: "not_found", connectionId: s.unknownConnectionId })
      expect(error.transient).toBe(false)
      await s.cleanup?.()
    })

    it("refuses a connection whose user must sign in again as reauthorization_required", async () => {
      const s = await setup()
      const error = await failureOf(s.source.fetchOAuth(request(s, [s.reauthorizeConnectionId])))
      expect(error).toMatchObject({ reason: "reauthorization_required", connectionId: s.reauthorizeConnectionId })
      await s.cleanup?.()
    })

    it("hands out a tool's secrets as environment variables, skipping null values", async () => {
      const s = await setup()
      const env = await run(s.source.fetchToolSecrets({ agentId: s.agentId, accountToolInstanceId: s.toolSecrets.accountToolInstanceId }))
      const expected = Object.entries(s.toolSecrets.secrets).filter(([, v]) => v !== null)
      expect(env.map((e) => [e.name, Redacted.value(e.value)]).sort()).toEqual(expected.sort())
      await s.cleanup?.()
    })
  })
}
