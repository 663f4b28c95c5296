import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import { RevocationStoreFailed, type RevocationsSnapshot, type RevocationStore } from "@dtma/domain"
import { ioDetail } from "../credentials/ioDetail.ts"
import { ensurePrivateDirectory, readIfPresent, writePrivateFile } from "./privateFiles.ts"

export const REVOCATIONS_FILE = "agent-revocations.json"

export interface FileRevocationStoreOptions {
  /** The file, normally `<stateDir>/agent-revocations.json`; its directory is made 0700. */
  readonly path: string
}

const FORMAT_VERSION = 1

const isEntry =
  (key: "agentId" | "tokenId") =>
  (value: unknown): boolean =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>)[key] === "string" &&
    Number.isFinite((value as Record<string, unknown>).revokedAt)

/** The snapshot a file's text holds, or null when it is not one (a file from elsewhere, or damaged). */
export const snapshotOfText = (text: string): RevocationsSnapshot | null => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== "object" || value === null) return null
  const { version, agents, tokens } = value as Record<string, unknown>
  if (version !== FORMAT_VERSION || !Array.isArray(agents) || !Array.isArray(tokens)) return null
  if (!agents.every(isEntry("agentId")) || !tokens.every(isEntry("tokenId"))) return null
  return {
    agents: agents.map((a: { agentId: string; revokedAt: number }) => ({ agentId: a.agentId, revokedAt: a.revokedAt })),
    tokens: tokens.map((t: { tokenId: string; revokedAt: number }) => ({ tokenId: t.tokenId, revokedAt: t.revokedAt })),
  }
}

/**
 * Revocations in a small JSON file in the state directory (`{"version":1,"agents":[…],"tokens":[…]}`):
 * agent ids, token ids and times, no secret. Written whole and atomically (0600); a missing file is
 * no revocations, a file that is not a revocation list fails `corrupt` (never read as none).
 */
export const makeFileRevocationStore = (options: FileRevocationStoreOptions): RevocationStore => ({
  load: () =>
    Effect.tryPromise({
      try: () => readIfPresent(options.path),
      catch: (e) => new RevocationStoreFailed({ reason: "unreadable", detail: ioDetail(e) }),
    }).pipe(
      Effect.flatMap((text) => {
        if (text === null) return Effect.succeed({ agents: [], tokens: [] })
        const snapshot = snapshotOfText(text)
        return snapshot === null
          ? Effect.fail(new RevocationStoreFailed({ reason: "corrupt", detail: `${options.path} is not a version ${FORMAT_VERSION} revocation list` }))
          : Effect.succeed(snapshot)
      }),
    ),
  save: (snapshot) =>
    Effect.tryPromise({
      try: async () => {
        await ensurePrivateDirectory(dirname(options.path))
        await writePrivateFile(options.path, `${JSON.stringify({ version: FORMAT_VERSION, ...snapshot }, null, 2)}\n`)
      },
      catch: (e) => new RevocationStoreFailed({ reason: "unwritable", detail: ioDetail(e) }),
    }),
})
