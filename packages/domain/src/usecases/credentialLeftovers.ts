import * as Effect from "effect/Effect"
import type { CredentialDelivery } from "../ports/CredentialDelivery.ts"

/**
 * After adoption: wipes what a previous DTMA delivered to servers that are gone (those `isServer`
 * does not know: give it `McpServers.supervises`, which knows the agents' own instances too). Answers the names wiped.
 */
export const wipeLeftoverCredentials = (delivery: CredentialDelivery, isServer: (name: string) => boolean): Effect.Effect<ReadonlyArray<string>, unknown> =>
  delivery.provisioned().pipe(
    Effect.map((names) => names.filter((name) => !isServer(name))),
    Effect.tap((gone) => Effect.forEach(gone, (name) => delivery.wipe(name), { discard: true })),
  )
