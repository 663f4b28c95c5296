import { execFile } from "node:child_process"
import { join } from "node:path"

const INSPECTOR = join(import.meta.dirname, "..", "..", "..", "..", "node_modules", ".bin", "mcp-inspector")

export interface InspectorRun {
  readonly stdout: string
  /** Null when it exited 0; else its exit code and stderr, with every `secret` masked. */
  readonly failure: string | null
}

/**
 * The MCP Inspector CLI (`mcp-inspector --cli …`), as a person runs it, with `home` as its HOME (it
 * keeps a catalog there) and a minute to finish.
 */
export const runInspector = (args: ReadonlyArray<string>, options: { readonly home: string; readonly secrets: ReadonlyArray<string> }): Promise<InspectorRun> =>
  new Promise((resolve) =>
    execFile(INSPECTOR, ["--cli", ...args], { timeout: 60_000, env: { PATH: process.env.PATH ?? "", HOME: options.home } }, (error, stdout, stderr) => {
      const masked = options.secrets.reduce((text, s) => text.replaceAll(s, "<secret>"), `${stderr}`)
      resolve({ stdout, failure: error === null ? null : `exit ${String(error.code)}: ${masked}` })
    }),
  )
