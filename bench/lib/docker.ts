import Dockerode from "dockerode"

export const docker = new Dockerode()

/** Every container the bench itself starts carries `dtma.bench=<run id>`. */
export const BENCH_LABEL = "dtma.bench"

/**
 * The container settings the DTMA gives a stdio MCP server (packages/adapters containerSpec.ts), so
 * that the references run the same container the DTMA runs.
 */
export const HARDENED_STDIO: Dockerode.HostConfig = {
  Init: true,
  CapDrop: ["ALL"],
  SecurityOpt: ["no-new-privileges"],
  ReadonlyRootfs: true,
  Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
  Memory: 512 * 1024 * 1024,
  NanoCpus: 1_000_000_000,
  PidsLimit: 256,
  NetworkMode: "none",
}

/** The same settings as `docker run` flags. */
export const HARDENED_STDIO_FLAGS: ReadonlyArray<string> = [
  "--init",
  "--cap-drop",
  "ALL",
  "--security-opt",
  "no-new-privileges",
  "--read-only",
  "--tmpfs",
  "/tmp:rw,noexec,nosuid,size=64m",
  "--memory",
  "512m",
  "--cpus",
  "1",
  "--pids-limit",
  "256",
  "--network",
  "none",
]

/** Force-removes every container carrying `label` (`key=value`); returns how many. */
/**
 * Removes every container carrying `label`, four at a time: fifty force-removals at once left
 * Docker 20.10 hung (its containers "Up" with no process behind them, every later call waiting).
 */
export const removeLabelled = async (label: string): Promise<number> => {
  const found = await docker.listContainers({ all: true, filters: { label: [label] } })
  const queue = [...found]
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined)
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return found.length
}

/** Full ids of the running containers carrying `label`. */
export const containerIds = async (label: string): Promise<ReadonlyArray<string>> =>
  (await docker.listContainers({ filters: { label: [label] } })).map((c) => c.Id)

/**
 * Builds `tag` from a Dockerfile with the legacy builder (engine 20.10 has no buildx); layers are
 * cached. The build context holds the Dockerfile and `files` (paths in `context`).
 */
export const buildImage = async (options: {
  readonly tag: string
  readonly context: string
  readonly dockerfile: string
  readonly files?: ReadonlyArray<string>
}): Promise<void> => {
  const stream = await docker.buildImage(
    { context: options.context, src: [options.dockerfile, ...(options.files ?? [])] },
    { t: options.tag, dockerfile: options.dockerfile, forcerm: true },
  )
  const result = await new Promise<ReadonlyArray<{ error?: string }>>((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: ReadonlyArray<{ error?: string }>) => (error ? reject(error) : resolve(output))),
  )
  const failure = result.find((r) => r.error !== undefined)
  if (failure !== undefined) throw new Error(`docker build of ${options.tag} failed: ${failure.error}`)
}
