import { duplexPair, PassThrough, type Duplex } from "node:stream"
import type { ContainerJson, CreateContainerBody, DockerApi, EventsRequest } from "../../src/docker/DockerApi.ts"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"
import { containerEventJson, FakeEventFeed } from "./FakeEventFeed.ts"

type Binding = { HostIp: string; HostPort: string }

interface FakeContainer {
  readonly id: string
  readonly body: CreateContainerBody
  readonly created: string
  status: "created" | "running" | "exited"
  startedAt: string
  exitCode: number
  bound: Record<string, Array<Binding>>
  /** The listening attachments (`attachOutput`), each with the streams it asked for. */
  outputs: Array<{ readonly stream: PassThrough; readonly streams: "stderr" | "all" }>
}

const ZERO_TIME = "0001-01-01T00:00:00Z"

/** An HTTP answer the way dockerode rejects with it (messages as Docker 20.10 words them). */
export const httpError = (statusCode: number, reason: string, message: string): Error =>
  Object.assign(new Error(`(HTTP code ${statusCode}) ${reason} - ${message} `), { statusCode, reason, json: { message } })

/** A socket failure the way Node reports it. */
export const socketError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code, syscall: "connect", address: "/var/run/docker.sock" })

const notFound = (id: string) => httpError(404, "no such container", `No such container: ${id}`)

/**
 * A stateful stand-in for the Docker Engine behind `DockerApi`, with injectable faults. Like the
 * engine, it puts an event in its feed for each start, death and removal.
 */
export class FakeDockerApi implements DockerApi {
  readonly images = new Set<string>()
  /** Images a pull can fetch. */
  readonly registry = new Set<string>()
  /** Host ports held by other processes. */
  readonly busyHostPorts = new Set<number>()
  /** Ids a list reports although their containers are gone (removed between list and inspect). */
  readonly ghostIds: Array<string> = []
  daemon: "up" | "down" | "silent" = "up"
  pull: "registry" | "silent" = "registry"
  pulls = 0
  abortedRequests = 0
  /** While set, every container inspect waits for it (to hold one in flight). */
  inspectGate: Promise<void> | null = null
  /** The next create is refused with this error. */
  refuseNextCreate: Error | null = null
  readonly events = new FakeEventFeed()
  /** How many times each container call was made: what the runtime's inventory saves. */
  readonly calls = { inspectContainer: 0, listContainers: 0 }
  /** The container's side of every attach stream, by container id: read its stdin, write framed output. */
  readonly attached = new Map<string, Array<Duplex>>()
  /** Plays the container's side of each new attachment (e.g. an in-process stdio MCP server). */
  onAttach: ((id: string, container: Duplex) => void) | null = null
  private readonly containers = new Map<string, FakeContainer>()
  private nextId = 1
  private starts = 0
  private nextRandomPort = 32768

  /** A container the DTMA did not create. */
  addForeign(name: string, labels: Record<string, string> = {}): string {
    return this.store({
      name,
      Image: "other",
      Env: [],
      Labels: labels,
      ExposedPorts: {},
      HostConfig: { PortBindings: {}, RestartPolicy: { Name: "unless-stopped" }, Init: false },
    })
  }

  /** Simulates `docker restart` from another client: a new start time, new random host ports, a `die` and a `start` event. */
  restart(id: string): void {
    const c = this.container(id)
    this.exit(id, 0)
    this.run(c)
  }

  private run(c: FakeContainer): void {
    const requested = Object.entries(c.body.HostConfig.PortBindings)
    const bind = (b: Binding) => ({ HostIp: b.HostIp, HostPort: b.HostPort || String(this.nextRandomPort++) })
    c.bound = Object.fromEntries(requested.map(([key, bs]) => [key, bs.map(bind)]))
    // Docker's start times have nanoseconds: two starts within a millisecond still differ.
    const startedAt = new Date().toISOString().replace("Z", `${String(++this.starts % 1_000_000).padStart(6, "0")}Z`)
    Object.assign(c, { status: "running", startedAt, exitCode: 0 })
    this.tell(c, "start")
  }

  has(id: string): boolean {
    return this.containers.has(id)
  }

  envOf(id: string): ReadonlyArray<string> {
    return this.containers.get(id)?.body.Env ?? []
  }

  private store(body: CreateContainerBody): string {
    const id = (this.nextId++).toString(16).padStart(64, "c")
    this.containers.set(id, {
      id,
      body,
      created: "2026-11-24T03:07:56.834204908Z",
      status: "created",
      startedAt: ZERO_TIME,
      exitCode: 0,
      bound: {},
      outputs: [],
    })
    return id
  }

  /** The container wrote `text` (bytes as they are, no newline added): every listening attachment that asked for the stream gets it. */
  write(id: string, stream: "stdout" | "stderr", text: string | Buffer): void {
    for (const o of this.container(id).outputs) if (stream === "stderr" || o.streams === "all") o.stream.write(encodeFrame(stream, text))
  }

  /** Listening attachments still open. */
  openOutputs(id: string): number {
    return this.containers.get(id)?.outputs.filter((o) => !o.stream.destroyed && !o.stream.writableEnded).length ?? 0
  }

  /** The container stopped: its attachments end, as Docker's do. */
  private ended(c: FakeContainer): void {
    for (const o of c.outputs) o.stream.end()
    c.outputs = []
  }

  /** Puts what happened to `c` on the event feed, with the attributes Docker gives: its labels, image and name. */
  private tell(c: FakeContainer, action: string, exitCode?: number): void {
    const attributes = { ...c.body.Labels, image: c.body.Image, name: c.body.name, ...(exitCode === undefined ? {} : { exitCode: String(exitCode) }) }
    this.events.emit(containerEventJson(action, c.id, attributes))
  }

  /** The container's process ended with `exitCode`. */
  private died(c: FakeContainer, exitCode: number): void {
    Object.assign(c, { status: "exited", exitCode, bound: {} })
    this.ended(c)
    this.tell(c, "die", exitCode)
  }

  /** The running container's process exits by itself with `exitCode`. */
  exit(id: string, exitCode: number): void {
    const c = this.container(id)
    if (c.status === "running") this.died(c, exitCode)
  }

  /** The running container's process is killed (SIGKILL by default), as `docker kill` from another client does. */
  kill(id: string, exitCode = 137): void {
    this.exit(id, exitCode)
  }

  /** The running container exceeds its memory limit: the kernel kills its process. */
  outOfMemory(id: string): void {
    const c = this.container(id)
    if (c.status !== "running") return
    this.tell(c, "oom")
    this.died(c, 137)
  }

  /** `docker pause` and `unpause` of a running container, as the event feed tells them (the state is not modelled). */
  pause(id: string): void {
    this.tell(this.container(id), "pause")
  }

  unpause(id: string): void {
    this.tell(this.container(id), "unpause")
  }

  private answer<A>(signal: AbortSignal, body: () => A, silent = this.daemon === "silent"): Promise<A> {
    if (this.daemon === "down") return Promise.reject(socketError("ECONNREFUSED"))
    if (!silent) return new Promise((resolve) => resolve(body()))
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        this.abortedRequests += 1
        reject(signal.reason)
      }),
    )
  }

  private container(id: string): FakeContainer {
    const c = this.containers.get(id)
    if (c === undefined) throw notFound(id)
    return c
  }

  inspectImage(image: string) {
    return this.answer(new AbortController().signal, () => {
      if (!this.images.has(image)) throw httpError(404, "no such image", `no such image: ${image}: No such image: ${image}`)
      return { Id: `sha256:${image}`, Config: { User: "1000:1000" } }
    })
  }

  pullImage(image: string, signal: AbortSignal) {
    return this.answer(
      signal,
      () => {
        this.pulls += 1
        if (!this.registry.has(image))
          throw httpError(500, "server error", `pull access denied for ${image}, repository does not exist or may require 'docker login'`)
        this.images.add(image)
      },
      this.daemon === "silent" || this.pull === "silent",
    )
  }

  createContainer(body: CreateContainerBody, signal: AbortSignal) {
    return this.answer(signal, () => {
      const refusal = this.refuseNextCreate
      this.refuseNextCreate = null
      if (refusal !== null) throw refusal
      const holder = [...this.containers.values()].find((c) => c.body.name === body.name)
      if (holder !== undefined) {
        throw httpError(409, "unexpected", `Conflict. The container name "/${body.name}" is already in use by container "${holder.id}".`)
      }
      if (!this.images.has(body.Image)) throw httpError(404, "no such container", `No such image: ${body.Image}`)
      return this.store(structuredClone(body))
    })
  }

  private portsInUse(): Set<string> {
    const used = new Set([...this.busyHostPorts].map(String))
    for (const c of this.containers.values()) for (const b of Object.values(c.bound).flat()) used.add(b.HostPort)
    return used
  }

  startContainer(id: string, signal: AbortSignal) {
    return this.answer(signal, () => {
      const c = this.container(id)
      if (c.status === "running") throw httpError(304, "container already started", "")
      const used = this.portsInUse()
      const requested = Object.entries(c.body.HostConfig.PortBindings)
      for (const b of requested.flatMap(([, bs]) => bs)) {
        if (b.HostPort !== "" && used.has(b.HostPort)) {
          const message =
            `driver failed programming external connectivity on endpoint ${c.body.name} (${"e".repeat(64)}): ` +
            `Bind for ${b.HostIp}:${b.HostPort} failed: port is already allocated`
          throw httpError(500, "server error", message)
        }
      }
      this.run(c)
    })
  }

  stopContainer(id: string, _graceSeconds: number, signal: AbortSignal) {
    return this.answer(signal, () => {
      const c = this.container(id)
      if (c.status !== "running") throw httpError(304, "container already stopped", "")
      this.died(c, 143)
    })
  }

  removeContainer(id: string, signal: AbortSignal) {
    return this.answer(signal, () => {
      const c = this.container(id)
      if (c.status === "running") this.died(c, 137)
      this.ended(c)
      this.containers.delete(c.id)
      this.tell(c, "destroy")
    })
  }

  async inspectContainer(id: string, signal: AbortSignal) {
    this.calls.inspectContainer += 1
    if (this.inspectGate !== null) await this.inspectGate
    return this.answer(signal, (): ContainerJson => {
      const c = this.container(id)
      return {
        Id: c.id,
        Name: `/${c.body.name}`,
        Created: c.created,
        Image: `sha256:${c.body.Image}`,
        State: { Status: c.status, StartedAt: c.startedAt, ExitCode: c.exitCode },
        Config: { Labels: c.body.Labels, Env: c.body.Env },
        HostConfig: { PortBindings: c.body.HostConfig.PortBindings },
        NetworkSettings: { Ports: c.bound },
      }
    })
  }

  listContainers(label: string, signal: AbortSignal) {
    this.calls.listContainers += 1
    return this.answer(signal, () => {
      const [key = "", value] = label.split("=")
      const listed = [...this.containers.values()].filter((c) => c.body.Labels[key] === value).map((c) => ({ Id: c.id, State: c.status }))
      return [...listed, ...this.ghostIds.map((Id) => ({ Id, State: "running" }))]
    })
  }

  attachContainer(id: string, signal: AbortSignal) {
    return this.answer(signal, () => {
      const c = this.container(id)
      if (c.status !== "running") throw httpError(409, "unexpected", "You cannot attach to a stopped container, start it first")
      const [ours, theirs] = duplexPair()
      this.attached.set(id, [...(this.attached.get(id) ?? []), theirs])
      this.onAttach?.(id, theirs)
      return ours
    })
  }

  attachOutput(id: string, streams: "stderr" | "all", signal: AbortSignal) {
    return this.answer(signal, () => {
      const stream = new PassThrough()
      this.container(id).outputs.push({ stream, streams })
      return stream
    })
  }

  containerEvents(request: EventsRequest, signal: AbortSignal) {
    return this.answer(signal, () => this.events.connect(request, signal))
  }
}

/** A container to create on the fake, named `srv`, of image `img` (add it to `images` first), as the runtime would send it. */
export const createBody = {
  name: "srv",
  Image: "img",
  Env: [],
  Labels: {},
  ExposedPorts: {},
  HostConfig: { PortBindings: {}, RestartPolicy: { Name: "no" as const }, Init: true },
}
