import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { ioDetail } from "./ioDetail.ts"

/**
 * Records an instance's name at `path` (`<root>/index/<dir>`, 0600, outside anything mounted), so
 * a restarted DTMA knows which directories are whose. Written before anything else of the instance.
 */
export const writeIndex = async (path: string, name: string): Promise<void> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const temporary = join(dirname(path), `.${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`)
  await writeFile(temporary, JSON.stringify({ name }), { mode: 0o600 })
  await rename(temporary, path)
}

/** The instance names recorded under `<root>/index`; unreadable entries are reported and skipped. */
export const listIndex = async (
  root: string,
  report: (problem: { readonly name: string; readonly detail: string }) => void,
): Promise<ReadonlyArray<string>> => {
  const dir = join(root, "index")
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") report({ name: root, detail: `cannot list ${dir}: ${ioDetail(e)}` })
    return [] as Array<string>
  })
  const names = await Promise.all(
    entries
      .filter((entry) => !entry.startsWith("."))
      .map(async (entry) => {
        try {
          const { name } = JSON.parse(await readFile(join(dir, entry), "utf8")) as { name?: unknown }
          if (typeof name === "string") return [name]
          report({ name: entry, detail: `index entry ${join(dir, entry)} holds no name` })
        } catch (e) {
          report({ name: entry, detail: `cannot read index entry ${join(dir, entry)}: ${ioDetail(e)}` })
        }
        return []
      }),
  )
  return names.flat().sort()
}
