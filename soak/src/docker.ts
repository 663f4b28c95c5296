import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)

/** Runs the docker CLI without blocking the event loop; its stdout, trimmed. */
export const docker = async (...args: ReadonlyArray<string>): Promise<string> =>
  (await execFileAsync("docker", [...args], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 })).stdout.trim()

/** Whether an image is present in the local engine. */
export const imageExists = async (image: string): Promise<boolean> =>
  docker("image", "inspect", "--format", "{{.Id}}", image).then(
    () => true,
    () => false,
  )

/** A container carrying a DTMA's scope label: its id, `dtma.name` label and state. */
export interface ScopedContainer {
  readonly id: string
  readonly name: string
  readonly state: string
}

/** Every container (running or not) labelled `dtma.managed=<scope>`. */
export const containersOfScope = async (scope: string): Promise<ReadonlyArray<ScopedContainer>> =>
  (await docker("ps", "-a", "--no-trunc", "--filter", `label=dtma.managed=${scope}`, "--format", '{{.ID}}\t{{.State}}\t{{.Label "dtma.name"}}'))
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", state = "", name = ""] = line.split("\t")
      return { id, state, name }
    })

/** `docker rm -f` every container of a scope (the soak's last resort, after the leak check). */
export const removeScope = async (scope: string): Promise<number> => {
  const ids = (await containersOfScope(scope)).map((c) => c.id)
  if (ids.length > 0) await docker("rm", "-f", ...ids).catch(() => undefined)
  return ids.length
}

/**
 * The host interface of the engine's default bridge when it is missing, else null. (A second
 * dockerd started with `--bridge=none` in the same network namespace deletes `docker0`; the shared
 * engine then cannot start a container with a published port.)
 */
export const missingBridge = async (): Promise<string | null> => {
  const name = await docker("network", "inspect", "bridge", "--format", '{{index .Options "com.docker.network.bridge.name"}}').catch(() => "")
  return name === "" || existsSync(`/sys/class/net/${name}`) ? null : name
}
