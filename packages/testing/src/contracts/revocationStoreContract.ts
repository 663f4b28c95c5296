import { describe, expect, it } from "vitest"
import type { RevocationsSnapshot, RevocationStore } from "@dtma/domain"
import { failureOf, run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** A revocation store under test, with a way to restart it and to damage what it keeps. */
export interface RevocationStoreSubject {
  readonly store: RevocationStore
  /** A new store on the same place, as after a DTMA restart. */
  reopen(): RevocationStore
  /** Damages what is kept (for a file: writes something that is not a revocation list). */
  corrupt(): Promise<void>
  readonly cleanup?: () => Promise<void>
}

const snapshot: RevocationsSnapshot = {
  agents: [
    { agentId: "agent-1", revokedAt: 1_780_000_000_000 },
    { agentId: "ägent 2/x", revokedAt: 1_780_000_000_500 },
  ],
  tokens: [{ tokenId: "tok-1", revokedAt: 1_780_000_001_000 }],
}

/** Behaviour every RevocationStore must have; run on the fake and on the file adapter. */
export const revocationStoreContract = (label: string, setup: () => Promise<RevocationStoreSubject>): void => {
  describe(`RevocationStore contract: ${label}`, () => {
    const withSubject = freshSubject(setup)

    it(
      "loads no revocations when none were ever saved",
      withSubject(async (s) => {
        expect(await run(s.store.load())).toEqual({ agents: [], tokens: [] })
      }),
    )

    it(
      "loads what was saved, in this process and after a restart",
      withSubject(async (s) => {
        await run(s.store.save(snapshot))
        expect(await run(s.store.load())).toEqual(snapshot)
        expect(await run(s.reopen().load())).toEqual(snapshot)
      }),
    )

    it(
      "replaces the whole of what it keeps on each save",
      withSubject(async (s) => {
        await run(s.store.save(snapshot))
        const fewer = { agents: [], tokens: [{ tokenId: "tok-2", revokedAt: 1_780_000_002_000 }] }
        await run(s.store.save(fewer))
        expect(await run(s.reopen().load())).toEqual(fewer)
      }),
    )

    it(
      "keeps a copy: changing the saved object afterwards changes nothing",
      withSubject(async (s) => {
        const mine = { agents: [...snapshot.agents], tokens: [...snapshot.tokens] }
        await run(s.store.save(mine))
        mine.agents.pop()
        expect(await run(s.store.load())).toEqual(snapshot)
      }),
    )

    it(
      "refuses to read damaged revocations as none, failing corrupt",
      withSubject(async (s) => {
        await run(s.store.save(snapshot))
        await s.corrupt()
        expect(await failureOf(s.reopen().load())).toMatchObject({ _tag: "RevocationStoreFailed", reason: "corrupt" })
      }),
    )
  })
}
