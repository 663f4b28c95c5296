import * as Effect from "effect/Effect"
import {
  ContainerNameConflict,
  ContainerNotFound,
  HostPortUnavailable,
  ImageUnavailable,
  RuntimeOperationFailed,
  RuntimeUnavailable,
  recipeOf,
  type ContainerRuntime,
  type ContainerState,
  type CreateOptions,
  type InstanceSpec,
  type ManagedContainer,
  type PublishedPort,
  type PullPolicy,
} from "@dtma/domain"
import { containerNameFor, replacementNamesFor } from "./containerNames.ts"

interface Stored {
  readonly id: string
  readonly containerName: string
  readonly spec: InstanceSpec
  /** The image's id when the container was created (a later `tag` does not change it). */
  readonly imageId: string
  state: ContainerState
  readonly createdAt: number
  startedAt: string | null
  exitCode: number | null
  assigned: Map<number, number>
}

export interface InMemoryContainerRuntimeOptions {
  /** Images present locally. */
  readonly images?: Iterable<string>
  /** Images a pull can fetch. */
  readonly registry?: Iterable<string>
  /** The `USER` of images; `1000:1000` (as the project's images have) when not listed. */
  readonly imageUsers?: Readonly<Record<string, string | null>>
  readonly now?: () => number
}

/**
 * A stateful stand-in for Docker with its observable behaviour: container names as the Docker
 * adapter gives them, unique across managed and unmanaged containers, host-port allocation at start, idempotent stop/remove, and injectable faults.
 */
export class InMemoryContainerRuntime implements ContainerRuntime {
  readonly images: Set<string>
  readonly registry: Set<string>
  /** Container names held by containers the DTMA did not create. */
  readonly unmanagedNames = new Set<string>()
  /** Host ports held by other processes on the host. */
  readonly busyHostPorts = new Set<number>()
  daemonDown = false
  private readonly startFailures: Array<string> = []
  private readonly containers = new Map<string, Stored>()
  private readonly now: () => number
  private readonly imageUsers: Readonly<Record<string, string | null>>
  /** Image ids by reference: set by `tag`, else derived from the reference. */
  private readonly imageIds = new Map<string, string>()
  private nextId = 1
  private nextRandomPort = 32768
  pulls = 0

  constructor(options: InMemoryContainerRuntimeOptions = {}) {
    this.images = new Set(options.images ?? [])
    this.registry = new Set(options.registry ?? [])
    this.now = options.now ?? Date.now
    this.imageUsers = options.imageUsers ?? {}
  }

  /** The next `start` fails as if the container's process could not run. */
  failNextStart(detail: string): void {
    this.startFailures.push(detail)
  }

  /** Every container, managed or not created by a deploy yet; for leak checks in tests. */
  containerCount(): number {
    return this.containers.size
  }

  /** The spec a container was created from (what `docker inspect` would show of it). */
  specOf(containerId: string): InstanceSpec | undefined {
    return this.containers.get(containerId)?.spec
  }

  /** Simulates `docker tag`: `target` names the same image (the same id) as `source`. */
  tag(source: string, target: string): void {
    this.images.add(target)
    this.imageIds.set(target, this.imageIdOf(source))
  }

  private imageIdOf(image: string): string {
    return this.imageIds.get(image) ?? `sha256:${image}`
  }

  /** Simulates the container's process exiting on its own. */
  crash(containerId: string, exitCode: number): void {
    const c = this.containers.get(containerId)
    if (c?.state === "running") Object.assign(c, { state: "exited", exitCode })
  }

  /** Simulates `docker pause`: the processes freeze and the container reports `paused`. */
  pause(containerId: string): void {
    const c = this.containers.get(containerId)
    if (c?.state === "running") Object.assign(c, { state: "paused" })
  }

  /** Simulates `docker unpause`. */
  unpause(containerId: string): void {
    const c = this.containers.get(containerId)
    if (c?.state === "paused") Object.assign(c, { state: "running" })
  }

  private guarded<A, E>(body: () => Effect.Effect<A, E>): Effect.Effect<A, E | RuntimeUnavailable> {
    return Effect.suspend(
      (): Effect.Effect<A, E | RuntimeUnavailable> =>
        this.daemonDown ? Effect.fail(new RuntimeUnavailable({ detail: "connect ECONNREFUSED /var/run/docker.sock" })) : body(),
    )
  }

  private view(c: Stored): ManagedContainer {
    const ports: Array<PublishedPort> = c.spec.ports.map((p) => ({
      containerPort: p.containerPort,
      protocol: p.protocol,
      hostIp: p.hostIp,
      hostPort: p.hostPort ?? (c.state === "running" ? (c.assigned.get(p.containerPort) ?? null) : null),
    }))
    return {
      containerId: c.id,
      containerName: c.containerName,
      name: c.spec.name,
      accountToolInstanceId: c.spec.accountToolInstanceId,
      kind: c.spec.kind,
      image: c.spec.image,
      imageId: c.imageId,
      state: c.state,
      createdAt: Math.floor(c.createdAt / 1000),
      startedAt: c.startedAt,
      exitCode: c.exitCode,
      ports,
      mcp: c.spec.mcp,
      oauth: c.spec.oauth ?? null,
      recipe: recipeOf(c.spec),
      isolatedFor: c.spec.isolatedFor ?? null,
    }
  }

  private lookup(containerId: string): Effect.Effect<Stored, ContainerNotFound> {
    const c = this.containers.get(containerId)
    return c === undefined ? Effect.fail(new ContainerNotFound({ containerId })) : Effect.succeed(c)
  }

  ensureImage(image: string, policy: PullPolicy) {
    return this.guarded((): Effect.Effect<void, ImageUnavailable> => {
      const present = this.images.has(image)
      if (policy === "never" || (policy === "if_not_present" && present)) {
        return present ? Effect.void : Effect.fail(new ImageUnavailable({ image, reason: "not_found", detail: "" }))
      }
      this.pulls += 1
      if (!this.registry.has(image)) {
        return Effect.fail(new ImageUnavailable({ image, reason: "pull_failed", detail: `pull access denied for ${image}` }))
      }
      this.images.add(image)
      return Effect.void
    })
  }

  imageUser(image: string) {
    return this.guarded((): Effect.Effect<string | null, ImageUnavailable> => {
      if (!this.images.has(image)) return Effect.fail(new ImageUnavailable({ image, reason: "not_found", detail: "" }))
      const user = this.imageUsers[image]
      return Effect.succeed(user === undefined ? "1000:1000" : user)
    })
  }

  private holds(containerName: string): boolean {
    return this.unmanagedNames.has(containerName) || [...this.containers.values()].some((c) => c.containerName === containerName)
  }

  create(spec: InstanceSpec, options: CreateOptions = {}) {
    return this.guarded((): Effect.Effect<ManagedContainer, ContainerNameConflict | RuntimeOperationFailed> => {
      const candidates = options.replacement === true ? replacementNamesFor(spec.name, this.now()) : [containerNameFor(spec.name)]
      const containerName = candidates.find((candidate) => !this.holds(candidate))
      if (containerName === undefined) return Effect.fail(new ContainerNameConflict({ containerName: candidates.at(-1)! }))
      if (!this.images.has(spec.image)) return Effect.fail(new RuntimeOperationFailed({ operation: "create", detail: `No such image: ${spec.image}` }))
      const id = `fake${(this.nextId++).toString(16).padStart(12, "0")}`
      const imageId = this.imageIdOf(spec.image)
      const stored: Stored = { id, containerName, spec, imageId, state: "created", createdAt: this.now(), startedAt: null, exitCode: null, assigned: new Map() }
      this.containers.set(id, stored)
      return Effect.succeed(this.view(stored))
    })
  }

  private hostPortsInUse(except: string): Set<number> {
    const used = new Set(this.busyHostPorts)
    for (const c of this.containers.values()) {
      if (c.id === except || c.state !== "running") continue
      for (const p of c.spec.ports) used.add(p.hostPort ?? c.assigned.get(p.containerPort) ?? -1)
    }
    return used
  }

  start(containerId: string) {
    return this.guarded(() =>
      this.lookup(containerId).pipe(
        Effect.flatMap((c): Effect.Effect<ManagedContainer, HostPortUnavailable | RuntimeOperationFailed> => {
          if (c.state === "running") return Effect.succeed(this.view(c))
          const failure = this.startFailures.shift()
          if (failure !== undefined) return Effect.fail(new RuntimeOperationFailed({ operation: "start", detail: failure }))
          const used = this.hostPortsInUse(c.id)
          const clash = c.spec.ports.find((p) => p.hostPort !== null && used.has(p.hostPort))
          if (clash?.hostPort != null) return Effect.fail(new HostPortUnavailable({ hostPort: clash.hostPort }))
          c.assigned = new Map(c.spec.ports.filter((p) => p.hostPort === null).map((p) => [p.containerPort, this.nextRandomPort++]))
          Object.assign(c, { state: "running", startedAt: new Date(this.now()).toISOString(), exitCode: null })
          return Effect.succeed(this.view(c))
        }),
      ),
    )
  }

  stop(containerId: string, _graceSeconds: number) {
    return this.guarded(() =>
      this.lookup(containerId).pipe(
        Effect.map((c) => {
          // Docker stops a paused container too.
          if (c.state === "running" || c.state === "paused") Object.assign(c, { state: "exited", exitCode: 143 })
          return this.view(c)
        }),
      ),
    )
  }

  remove(containerId: string) {
    return this.guarded(() => Effect.sync(() => void this.containers.delete(containerId)))
  }

  get(containerId: string) {
    return this.guarded(() => this.lookup(containerId).pipe(Effect.map((c) => this.view(c))))
  }

  environmentOf(containerId: string) {
    return this.guarded(() => this.lookup(containerId).pipe(Effect.map((c) => c.spec.env)))
  }

  list() {
    return this.guarded(() => Effect.sync(() => [...this.containers.values()].map((c) => this.view(c))))
  }
}
