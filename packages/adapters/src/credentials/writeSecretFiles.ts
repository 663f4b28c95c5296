import { chmod, chown, mkdir, readdir, rm } from "node:fs/promises"
import { join } from "node:path"
import * as Redacted from "effect/Redacted"
import { replaceFileAtomically } from "../files/replaceFileAtomically.ts"
import { secretFilesOf, tokenDocumentOf, type ContainerOwner, type OAuthCredential } from "@dtma/domain"

const FILES = ["access_token", "token.json"] as const

/** A directory only `owner` may enter: created if missing, its mode and owner set either way. */
export const ownDirectory = async (dir: string, owner: ContainerOwner): Promise<void> => {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  await chown(dir, owner.uid, owner.gid)
}

/**
 * Replaces `path` atomically: the content goes to a temporary file in the same directory, already
 * 0400 and owned by `owner`, which is then renamed over the old one. A reader opens the old file or
 * the new one, never a torn or empty one. (No fsync: the directory is on memory.)
 */
export const replaceFile = (path: string, content: string, owner: ContainerOwner): Promise<void> =>
  replaceFileAtomically(path, content, { mode: 0o400, owner, sync: false })

/** Removes every entry of `dir` not in `keep` (stale connections, leftover temporary files). */
const prune = async (dir: string, keep: ReadonlySet<string>): Promise<void> => {
  const entries = await readdir(dir).catch(() => [] as Array<string>)
  await Promise.all(entries.filter((e) => !keep.has(e)).map((e) => rm(join(dir, e), { recursive: true, force: true })))
}

/**
 * Lays `credentials` out under `dir` as `secretFilesOf` says: `<provider>/access_token`, `token.json`
 * and the same under `connections/<id>/`; directories 0700, files 0400, all owned by `owner`. New
 * files are in place before anything stale is removed, so a connection that stays never disappears.
 */
export const writeSecretFiles = async (dir: string, credentials: ReadonlyArray<OAuthCredential>, owner: ContainerOwner): Promise<void> => {
  await ownDirectory(dir, owner)
  const sets = secretFilesOf(credentials)
  if (credentials.length > 0) await ownDirectory(join(dir, "connections"), owner)
  for (const { dir: relative, credential } of sets) {
    const target = join(dir, relative)
    await ownDirectory(target, owner)
    await replaceFile(join(target, "access_token"), Redacted.value(credential.accessToken), owner)
    await replaceFile(join(target, "token.json"), `${JSON.stringify(tokenDocumentOf(credential), null, 2)}\n`, owner)
    await prune(target, new Set(FILES))
  }
  const top = sets.filter((s) => !s.dir.startsWith("connections/")).map((s) => s.dir)
  await prune(dir, new Set(credentials.length > 0 ? [...top, "connections"] : top))
  await prune(join(dir, "connections"), new Set(credentials.map((c) => c.connectionId)))
}
