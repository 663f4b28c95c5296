import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import {
  InstanceAlreadyExists,
  InstanceNotFound,
  NameTakenByUnmanagedContainer,
  PortConflict,
  RuntimeOperationFailed,
  type ImageUnavailable,
  type InvalidInstanceSpec,
  type RuntimeUnavailable,
} from "../errors.ts"
import { makeKeyedLock } from "../keyedLock.ts"
import { lifecycleOf, transition } from "../lifecycle.ts"
import type { InstanceSpec, ManagedContainer } from "../ManagedInstance.ts"
import type { ContainerRuntime, CreateOptions, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import { buildInstanceSpec, type DeployRequest, type DeployRules } from "./deployRequest.ts"

export interface InstancesSettings extends DeployRules {
  /** How long a stop waits before killing. */
  readonly stopGraceSeconds: number
}

export type DeployError =
  | InvalidInstanceSpec
  | InstanceAlreadyExists
  | PortConflict
  | NameTakenByUnmanagedContainer
  | ImageUnavailable
  | RuntimeUnavailable
  | RuntimeOperationFailed

export type ManageError = InstanceNotFound | RuntimeFailure
export type StartError = ManageError | PortConflict

export interface StartOutcome {
  readonly outcome: "started" | "already_running"
  readonly container: ManagedContainer
}

export interface ReconcileReport {
  readonly adopted: ReadonlyArray<string>
  readonly removed: ReadonlyArray<{ readonly containerId: string; readonly name: string; readonly reason: "duplicate" | "never_started" }>
}

/** Deploy, start, stop, remove, list and reconcile managed instances over a container runtime. */
export interface Instances {
  deploy(request: DeployRequest): Effect.Effect<ManagedContainer, DeployError>
  /**
   * Starts a second container for an existing instance (a new image, say), beside the current one,
   * for a zero-downtime switch; the caller removes the old container once traffic has moved.
   */
  deployReplacement(request: DeployRequest): Effect.Effect<ManagedContainer, DeployError | InstanceNotFound>
  start(name: string): Effect.Effect<StartOutcome, StartError>
  stop(name: string): Effect.Effect<ManagedContainer, ManageError>
  remove(name: string): Effect.Effect<void, ManageError>
  /** Every managed instance but the agents' own instances of `per_agent` servers, sorted by name. */
  list(): Effect.Effect<ReadonlyArray<ManagedContainer>, RuntimeFailure>
  /** The agents' own instances of `per_agent` servers (their containers), sorted by name. */
  listIsolated(): Effect.Effect<ReadonlyArray<ManagedContainer>, RuntimeFailure>
  find(name: string): Effect.Effect<ManagedContainer, ManageError>
  /** Rebuilds the managed set after a restart: removes duplicates and half-deployed containers. */
  reconcile(): Effect.Effect<ReconcileReport, RuntimeFailure>
}

// Running first, then the newest (a replacement started beside its predecessor wins).
const byPreference = (a: ManagedContainer, b: ManagedContainer): number =>
  Number(b.state === "running") - Number(a.state === "running") || b.createdAt - a.createdAt || (b.startedAt ?? "").localeCompare(a.startedAt ?? "")

// A container removed behind the DTMA's back between the lookup and the operation.
const vanished = (operation: "start" | "stop") => (e: { readonly containerId: string }) =>
  Effect.fail(new RuntimeOperationFailed({ operation, detail: `container ${e.containerId} disappeared` }))

const wasNeverStarted = (c: ManagedContainer): boolean => c.state === "created" && c.startedAt === null

export const makeInstances = (deps: { readonly runtime: ContainerRuntime; readonly settings: InstancesSettings }): Instances => {
  const { runtime, settings } = deps
  const withName = makeKeyedLock()

  const matching = (name: string) => runtime.list().pipe(Effect.map((all) => all.filter((c) => c.name === name).sort(byPreference)))

  const find = (name: string): Effect.Effect<ManagedContainer, ManageError> =>
    matching(name).pipe(Effect.flatMap(([first]) => (first === undefined ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(first))))

  /** Checks host ports against every managed container, then creates and starts; no half-created container survives. */
  const createAndStart = (
    spec: InstanceSpec,
    all: ReadonlyArray<ManagedContainer>,
    options: CreateOptions = {},
  ): Effect.Effect<ManagedContainer, DeployError> =>
    Effect.gen(function* () {
      const holderOf = new Map(all.flatMap((c) => c.ports.map((p) => [p.hostPort, c.name] as const)))
      const taken = spec.ports.find((p) => p.hostPort !== null && holderOf.has(p.hostPort))
      if (taken?.hostPort != null) {
        return yield* new PortConflict({
          hostPort: taken.hostPort,
          heldBy: holderOf.get(taken.hostPort) === spec.name ? "replaced_instance" : "managed_instance",
        })
      }
      yield* runtime.ensureImage(spec.image, spec.pullPolicy)
      const created = yield* runtime
        .create(spec, options)
        .pipe(
          Effect.catchTag("ContainerNameConflict", (e) => Effect.fail(new NameTakenByUnmanagedContainer({ name: spec.name, containerName: e.containerName }))),
        )
      // Whatever stops the start (an error or an interruption), the container goes with it.
      return yield* runtime.start(created.containerId).pipe(
        Effect.catchTags({
          HostPortUnavailable: (e) => Effect.fail(new PortConflict({ hostPort: e.hostPort, heldBy: "host" })),
          ContainerNotFound: vanished("start"),
        }),
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : runtime.remove(created.containerId).pipe(Effect.ignore))),
      )
    })

  /** Checks the request, then runs `body` under the name's lock with every managed container listed. */
  const underName = <A, E>(request: DeployRequest, body: (spec: InstanceSpec, all: ReadonlyArray<ManagedContainer>) => Effect.Effect<A, E>) =>
    buildInstanceSpec(request, settings).pipe(Effect.flatMap((spec) => withName(spec.name, runtime.list().pipe(Effect.flatMap((all) => body(spec, all))))))

  const deploy = (request: DeployRequest): Effect.Effect<ManagedContainer, DeployError> =>
    underName(request, (spec, all) =>
      all.some((c) => c.name === spec.name) ? Effect.fail(new InstanceAlreadyExists({ name: spec.name })) : createAndStart(spec, all),
    )

  const deployReplacement = (request: DeployRequest): Effect.Effect<ManagedContainer, DeployError | InstanceNotFound> =>
    underName(
      request,
      (spec, all): Effect.Effect<ManagedContainer, DeployError | InstanceNotFound> =>
        all.some((c) => c.name === spec.name) ? createAndStart(spec, all, { replacement: true }) : Effect.fail(new InstanceNotFound({ name: spec.name })),
    )

  const start = (name: string): Effect.Effect<StartOutcome, StartError> =>
    withName(
      name,
      Effect.gen(function* () {
        const current = yield* find(name)
        const next = transition(lifecycleOf(current.state), { _tag: "StartRequested" })
        if (Result.isSuccess(next) && next.success === "running") return { outcome: "already_running" as const, container: current }
        const container = yield* runtime.start(current.containerId).pipe(
          Effect.catchTags({
            HostPortUnavailable: (e) => Effect.fail(new PortConflict({ hostPort: e.hostPort, heldBy: "host" })),
            ContainerNotFound: vanished("start"),
          }),
        )
        return { outcome: "started" as const, container }
      }),
    )

  const stop = (name: string): Effect.Effect<ManagedContainer, ManageError> =>
    withName(
      name,
      find(name).pipe(
        Effect.flatMap((c) => runtime.stop(c.containerId, settings.stopGraceSeconds)),
        Effect.catchTag("ContainerNotFound", vanished("stop")),
      ),
    )

  const remove = (name: string): Effect.Effect<void, ManageError> =>
    withName(
      name,
      Effect.gen(function* () {
        const found = yield* matching(name)
        if (found.length === 0) return yield* new InstanceNotFound({ name })
        yield* Effect.forEach(found, (c) => runtime.remove(c.containerId), { discard: true })
      }),
    )

  const sorted = (isolated: boolean) => () =>
    runtime.list().pipe(Effect.map((all) => all.filter((c) => (c.isolatedFor != null) === isolated).sort((a, b) => a.name.localeCompare(b.name))))
  const list = sorted(false)
  const listIsolated = sorted(true)

  const reconcile = (): Effect.Effect<ReconcileReport, RuntimeFailure> =>
    Effect.gen(function* () {
      const groups = Map.groupBy(yield* runtime.list(), (c) => c.name)
      const adopted: Array<string> = []
      const removed: Array<ReconcileReport["removed"][number]> = []
      for (const [name, containers] of groups) {
        yield* withName(
          name,
          Effect.gen(function* () {
            const [keep, ...duplicates] = [...containers].sort(byPreference)
            for (const c of duplicates) {
              yield* runtime.remove(c.containerId)
              removed.push({ containerId: c.containerId, name, reason: "duplicate" })
            }
            if (keep === undefined) return
            if (wasNeverStarted(keep)) {
              yield* runtime.remove(keep.containerId)
              removed.push({ containerId: keep.containerId, name, reason: "never_started" })
            } else adopted.push(name)
          }),
        )
      }
      return { adopted: adopted.sort(), removed }
    })

  return { deploy, deployReplacement, start, stop, remove, list, listIsolated, find, reconcile }
}
