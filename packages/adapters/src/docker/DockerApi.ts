import type { Duplex } from "node:stream"
import type Dockerode from "dockerode"

export interface PortBindingJson {
  readonly HostIp?: string
  readonly HostPort?: string
}

/** `{"8080/tcp": [{HostIp, HostPort}]}`; Docker reports `null` for exposed but unpublished ports. */
export type PortMapJson = Readonly<Record<string, ReadonlyArray<PortBindingJson> | null | undefined>>

/** The part of `GET /containers/{id}/json` the adapter reads. */
export interface ContainerJson {
  readonly Id: string
  readonly Name: string
  readonly Created: string
  /** The id of the container's image (`sha256:…`). */
  readonly Image?: string
  readonly State: { readonly Status: string; readonly StartedAt: string; readonly ExitCode: number }
  readonly Config: { readonly Labels?: Readonly<Record<string, string>> | null; readonly Env?: ReadonlyArray<string> | null }
  readonly HostConfig: { readonly PortBindings?: PortMapJson | null }
  readonly NetworkSettings: { readonly Ports?: PortMapJson | null }
}

/** The part of each entry of `GET /containers/json` the adapter reads. */
export interface ContainerSummaryJson {
  readonly Id: string
  /** As in an inspect's `State.Status`. */
  readonly State: string
}

/** The body of `POST /containers/create` the adapter sends. */
export interface CreateContainerBody {
  name: string
  Image: string
  Env: Array<string>
  Labels: Record<string, string>
  ExposedPorts: Record<string, Record<string, never>>
  OpenStdin?: boolean
  StdinOnce?: boolean
  Tty?: boolean
  Cmd?: Array<string>
  Entrypoint?: Array<string>
  WorkingDir?: string
  User?: string
  HostConfig: {
    PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>>
    RestartPolicy: { Name: "unless-stopped" | "no" }
    Init: boolean
    CapDrop?: Array<string>
    SecurityOpt?: Array<string>
    ReadonlyRootfs?: boolean
    Tmpfs?: Record<string, string>
    Memory?: number
    NanoCpus?: number
    PidsLimit?: number
    NetworkMode?: string
    /** Where the engine keeps what the container writes, and how much of it. */
    LogConfig?: { Type: string; Config: Record<string, string> }
    /** Only the DTMA's own credential directories, read-only; callers can never add one. */
    Mounts?: Array<{ Type: "bind"; Source: string; Target: string; ReadOnly: true }>
  }
}

/** What `containerEvents` asks for. */
export interface EventsRequest {
  /** Replay from this time (Unix seconds, fractional) or, when null, from now. */
  readonly since: number | null
  readonly filters: Readonly<Record<string, ReadonlyArray<string>>>
}

/**
 * The slice of the Docker Engine API the adapter uses. Calls reject the way dockerode does: an
 * HTTP answer as an Error with `statusCode` (and `json.message`, Docker's own text); a socket
 * problem as a Node system error with `code` (ECONNREFUSED, ENOENT, ...). `signal` aborts the request.
 */
export interface DockerApi {
  /** Rejects with statusCode 404 when the image is not present locally. */
  inspectImage(image: string): Promise<unknown>
  /** Pulls and follows the progress stream to its end; rejects on an error line in the stream. */
  pullImage(image: string, signal: AbortSignal): Promise<void>
  /** Resolves to the new container's id. */
  createContainer(body: CreateContainerBody, signal: AbortSignal): Promise<string>
  startContainer(id: string, signal: AbortSignal): Promise<void>
  stopContainer(id: string, graceSeconds: number, signal: AbortSignal): Promise<void>
  /** Forced removal (kills a running container). */
  removeContainer(id: string, signal: AbortSignal): Promise<void>
  inspectContainer(id: string, signal: AbortSignal): Promise<ContainerJson>
  /** Every container, running or not, carrying the label (`key=value`): id and state. */
  listContainers(label: string, signal: AbortSignal): Promise<ReadonlyArray<ContainerSummaryJson>>
  /**
   * A hijacked attach stream (stdin and stdout; stderr is the output capture's): the container's
   * stdout multiplexed (8-byte headers, `Tty: false`), and what is written goes to its stdin
   * unframed. Ending it does not close the container's stdin unless the container was created with
   * `StdinOnce`.
   */
  attachContainer(id: string, signal: AbortSignal): Promise<Duplex>
  /**
   * A listening attach stream (no stdin) of stderr, or of stdout and stderr, multiplexed like the
   * above. It can be made before the container starts, and ends when the container stops.
   */
  attachOutput(id: string, streams: "stderr" | "all", signal: AbortSignal): Promise<NodeJS.ReadableStream & { destroy(): void }>
  /** The daemon's event feed, newline-delimited JSON, until the daemon or `signal` ends it. */
  containerEvents(request: EventsRequest, signal: AbortSignal): Promise<NodeJS.ReadableStream>
}

interface ProgressLine {
  readonly error?: string
  readonly errorDetail?: { readonly message?: string }
}

class PullFailed extends Error {}

const followProgress = (docker: Dockerode, stream: NodeJS.ReadableStream): Promise<ReadonlyArray<ProgressLine>> =>
  new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: ReadonlyArray<ProgressLine>) => (error ? reject(error) : resolve(output)))
  })

/** The slice over a real dockerode client. */
export const dockerApiOf = (docker: Dockerode): DockerApi => ({
  inspectImage: (image) => docker.getImage(image).inspect(),
  pullImage: async (image, signal) => {
    const stream: NodeJS.ReadableStream = await docker.pull(image, { abortSignal: signal })
    // An aborted progress stream just ends: without this check an abort would look like success.
    const output = await followProgress(docker, stream)
    signal.throwIfAborted()
    const failed = output.find((line) => line.error !== undefined || line.errorDetail !== undefined)
    if (failed !== undefined) throw new PullFailed(failed.errorDetail?.message ?? failed.error ?? "pull failed")
  },
  createContainer: async (body, signal) => (await docker.createContainer({ ...body, abortSignal: signal })).id,
  startContainer: (id, signal) => docker.getContainer(id).start({ abortSignal: signal }),
  stopContainer: (id, graceSeconds, signal) => docker.getContainer(id).stop({ t: graceSeconds, abortSignal: signal }),
  removeContainer: (id, signal) => docker.getContainer(id).remove({ force: true, abortSignal: signal }),
  inspectContainer: (id, signal) => docker.getContainer(id).inspect({ abortSignal: signal }),
  listContainers: async (label, signal) =>
    (await docker.listContainers({ all: true, filters: { label: [label] }, abortSignal: signal })).map((c) => ({ Id: c.Id, State: c.State })),
  attachContainer: async (id, signal) => {
    const options = { stream: true, stdin: true, stdout: true, stderr: false, hijack: true, abortSignal: signal }
    // With `hijack` dockerode resolves to the raw socket; its types only say ReadWriteStream.
    const stream: unknown = await docker.getContainer(id).attach(options)
    return stream as Duplex
  },
  attachOutput: async (id, streams, signal) => {
    const options = { stream: true, stdin: false, stdout: streams === "all", stderr: true, logs: false, abortSignal: signal }
    // Without `hijack` dockerode resolves to the response, a readable socket stream.
    const stream: unknown = await docker.getContainer(id).attach(options)
    return stream as NodeJS.ReadableStream & { destroy(): void }
  },
  containerEvents: (request, signal) => {
    const options = { filters: JSON.stringify(request.filters), abortSignal: signal }
    return docker.getEvents(request.since === null ? options : { ...options, since: request.since })
  },
})
