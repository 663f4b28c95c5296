import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import type { Api } from "./api.ts"
import { containersOfScope } from "./docker.ts"

/** Containers of the scope against the servers the API lists. */
export interface ContainerCheck {
  readonly docker: number
  readonly listed: number
  /** Containers of the scope the API does not list (by id). */
  readonly unlisted: ReadonlyArray<string>
  /** Listed servers whose container id is not among the scope's containers. */
  readonly missing: ReadonlyArray<string>
  readonly leak: boolean
}

/** Every container with the scope's label is one the API lists, and every listed server has its container. */
export const checkContainers = async (api: Api, scope: string): Promise<ContainerCheck> => {
  const [containers, listed] = await Promise.all([containersOfScope(scope), api.list()])
  const listedIds = new Set(listed.map((s) => s.containerId))
  const ids = containers.map((c) => c.id)
  const unlisted = containers.filter((c) => !listedIds.has(c.id)).map((c) => `${c.name} ${c.id.slice(0, 12)} ${c.state}`)
  const missing = listed.filter((s) => !ids.includes(s.containerId)).map((s) => s.name)
  return { docker: containers.length, listed: listed.length, unlisted, missing, leak: unlisted.length > 0 || missing.length > 0 }
}

/** A count at the start and at the end; growth beyond `tolerance` is a leak. */
export interface CountCheck {
  readonly start: number
  readonly end: number
  readonly tolerance: number
  readonly leak: boolean
}

export const countCheck = (start: number, end: number, tolerance: number): CountCheck => ({ start, end, tolerance, leak: end - start > tolerance })

/** Every path under `dir`, recursively; directories themselves only with `directories`. */
const walk = (dir: string, directories = false): ReadonlyArray<string> => {
  let entries: ReadonlyArray<string>
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.flatMap((e) => {
    const path = join(dir, e)
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() !== true) return [path]
    return directories ? [path, ...walk(path, true)] : walk(path)
  })
}

/** Unix socket files anywhere under `dir` (per-instance credential sockets, say). */
export const socketFilesUnder = (dir: string): ReadonlyArray<string> => walk(dir).filter((p) => statSync(p, { throwIfNoEntry: false })?.isSocket() === true)

/**
 * Files and per-instance directories left under the credentials root after every server was
 * removed (the DTMA's own layout, `index/`, `secrets/` and `sockets/`, stays); "n/a" when none is configured.
 */
export const credentialFilesLeft = (root: string | null): ReadonlyArray<string> | "n/a" => {
  if (root === null) return "n/a"
  const layout = new Set(["index", "secrets", "sockets"].map((d) => join(root, d)))
  return walk(root, true).filter((p) => !layout.has(p))
}
