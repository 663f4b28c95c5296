import { newDockerode } from "./newDockerode.ts"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import {
  ContainerNotFound,
  type ContainerNameConflict,
  ImageUnavailable,
  RuntimeUnavailable,
  type ContainerEvents,
  type ContainerRuntime,
  type EnvVar,
  type ManagedContainer,
  type RuntimeFailure,
  type RuntimeOperation,
} from "@dtma/domain"
import { makeContainerInventory } from "./containerInventory.ts"
import { replacementNamesFor } from "./containerName.ts"
import { envValuesOf, toCreateBody } from "./containerSpec.ts"
import { dockerApiOf, type CreateContainerBody, type DockerApi } from "./DockerApi.ts"
import type { CapturedStreams, DockerOutputCapture } from "./DockerOutputCapture.ts"
import { createFailure, dockerMessageOf, notFoundOr, pullFailure, runtimeFailure, startFailure, statusCodeOf } from "./dockerErrors.ts"
import { decodeLabels, DEFAULT_SCOPE, managedFilter } from "./labels.ts"
import { createdContainerJson, toManagedContainer } from "./status.ts"

export interface DockerContainerRuntimeOptions {
  /** How long a pull may run before `ensureImage` fails with `pull_timeout`; default 120 s. */
  readonly pullTimeoutMs?: number
  /** How long any other Docker call may take (a stop gets its grace period on top); default 60 s. */
  readonly requestTimeoutMs?: number
  /** Which containers are this DTMA's (`dtma.managed=<scope>`); default `true`, every existing one. */
  readonly scope?: string
  /**
   * Where MCP servers' output is kept (they run with the `none` log driver): followed from before
   * each start and whenever one is seen running unfollowed, dropped with the container. Without it
   * their output is not kept at all.
   */
  readonly output?: Pick<DockerOutputCapture, "follow" | "drop">
  /**
   * The feed that keeps the runtime's inventory of containers current, followed from the first
   * `list` for as long as the runtime lives: a list then inspects only the containers that are new
   * or changed. Without it every list inspects every container.
   */
  readonly events?: ContainerEvents
}

const LIST_CONCURRENCY = 8

/** Which output of a container is captured: none for standard tools (Docker keeps theirs), stderr only where stdout is the protocol. */
const capturedStreamsOf = (container: ManagedContainer): CapturedStreams | null => {
  if (container.kind !== "mcp_server") return null
  return container.mcp?.transport === "stdio" ? "stderr" : "all"
}

/** The `K=V` entries of the variables the DTMA set (their names are in the labels), values redacted. */
const environmentFrom = (entries: ReadonlyArray<string>, names: ReadonlyArray<string>): ReadonlyArray<EnvVar> =>
  entries.flatMap((entry) => {
    const eq = entry.indexOf("=")
    const name = entry.slice(0, eq)
    return eq > 0 && names.includes(name) ? [{ name, value: Redacted.make(entry.slice(eq + 1)) }] : []
  })

/** Resolves instead of rejecting when Docker answers with one of the statuses that mean "already so". */
const tolerating =
  (accept: (error: unknown) => boolean) =>
  <A>(promise: Promise<A>): Promise<A | undefined> =>
    promise.catch((error: unknown) => (accept(error) ? undefined : Promise.reject(error)))

const hasStatus =
  (...statuses: ReadonlyArray<number>) =>
  (error: unknown) =>
    statuses.includes(statusCodeOf(error) ?? -1)

// 404: already gone; 409 "removal ... is already in progress": going.
const isRemoved = (error: unknown) => hasStatus(404)(error) || (hasStatus(409)(error) && dockerMessageOf(error).includes("already in progress"))

/** The `ContainerRuntime` over the Docker Engine API. */
export const makeDockerContainerRuntime = (api: DockerApi, options: DockerContainerRuntimeOptions = {}): ContainerRuntime => {
  const pullTimeoutMs = options.pullTimeoutMs ?? 120_000
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000
  const scope = options.scope ?? DEFAULT_SCOPE
  const output = options.output

  /** Starts keeping the container's output if it is an MCP server; resolves once attached. */
  const follow = (container: ManagedContainer): Promise<void> => {
    const streams = capturedStreamsOf(container)
    return output === undefined || streams === null ? Promise.resolve() : output.follow(container.containerId, streams)
  }

  /** One Docker call: its request is aborted when interrupted, and it never outlives `timeoutMs`. */
  const call = <A, E>(
    operation: RuntimeOperation,
    request: (signal: AbortSignal) => Promise<A>,
    onError: (error: unknown) => E,
    timeoutMs: number = requestTimeoutMs,
  ): Effect.Effect<A, E | RuntimeUnavailable> =>
    Effect.tryPromise({ try: (signal: AbortSignal) => request(signal), catch: onError }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () => Effect.fail(new RuntimeUnavailable({ detail: `Docker did not answer a ${operation} request within ${timeoutMs} ms` })),
      }),
    )

  const inventory = makeContainerInventory()
  let following = false

  /** Follows the events from the first list on; what was kept before cannot be trusted. Without events, nothing kept ever is. */
  const keepCurrent: Effect.Effect<void> = Effect.suspend(() => {
    const events = options.events
    if (events === undefined) return Effect.sync(() => inventory.gap())
    if (following) return Effect.void
    following = true
    inventory.gap()
    return events.subscribe({ onEvent: (event) => inventory.event(event), onGap: () => inventory.gap() })
  })

  /** The container is gone (or never was ours): nothing is kept of it. */
  const gone = (containerId: string) =>
    Effect.sync(() => {
      inventory.forget(containerId)
      output?.drop(containerId)
    })

  /** A managed container, fresh; containers not ours are reported as absent. What it finds is kept. */
  const get = (containerId: string): Effect.Effect<ManagedContainer, ContainerNotFound | RuntimeFailure> =>
    Effect.suspend(() => {
      const stamp = inventory.stamp(containerId)
      return call("inspect", (signal) => api.inspectContainer(containerId, signal), notFoundOr("inspect", containerId)).pipe(
        Effect.flatMap((json) => {
          const container = toManagedContainer(json, scope)
          return container === null ? Effect.fail(new ContainerNotFound({ containerId })) : Effect.succeed(container)
        }),
        Effect.tap((container) =>
          Effect.sync(() => {
            inventory.put(container, stamp)
            // Running and not followed (adopted, or started by someone else): follow it from now on.
            if (container.state === "running") void follow(container)
          }),
        ),
        Effect.tapError((e) => (e._tag === "ContainerNotFound" ? gone(containerId) : Effect.void)),
      )
    })

  /** A managed container as known (its kind and settings never change), inspected only when not known. */
  const managed = (containerId: string): Effect.Effect<ManagedContainer, ContainerNotFound | RuntimeFailure> =>
    Effect.suspend(() => {
      const known = inventory.known(containerId)
      return known === undefined ? get(containerId) : Effect.succeed(known)
    })

  const isPresent = (image: string): Effect.Effect<boolean, RuntimeFailure> =>
    call(
      "inspect",
      () =>
        api.inspectImage(image).then(
          () => true,
          (error: unknown) => (hasStatus(404)(error) ? false : Promise.reject(error)),
        ),
      (error) => runtimeFailure("inspect", error),
    )

  const pull = (image: string): Effect.Effect<void, ImageUnavailable | RuntimeUnavailable> =>
    Effect.tryPromise({ try: (signal: AbortSignal) => api.pullImage(image, signal), catch: pullFailure(image) }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(pullTimeoutMs),
        orElse: () => Effect.fail(new ImageUnavailable({ image, reason: "pull_timeout", detail: `no result within ${pullTimeoutMs} ms` })),
      }),
    )

  const ensureImage: ContainerRuntime["ensureImage"] = (image, policy) =>
    policy === "always"
      ? pull(image)
      : isPresent(image).pipe(
          Effect.flatMap((present) => {
            if (present) return Effect.void
            return policy === "never" ? Effect.fail(new ImageUnavailable({ image, reason: "not_found", detail: "" })) : pull(image)
          }),
        )

  const imageUser: ContainerRuntime["imageUser"] = (image) =>
    call(
      "inspect",
      () => api.inspectImage(image),
      (error) => (hasStatus(404)(error) ? new ImageUnavailable({ image, reason: "not_found", detail: "" }) : runtimeFailure("inspect", error)),
    ).pipe(
      Effect.map((json) => {
        const user: unknown = Reflect.get(Reflect.get(Object(json), "Config") ?? {}, "User")
        return typeof user === "string" && user !== "" ? user : null
      }),
    )

  /** Creates the container under the first of `names` no container holds. */
  const createNamed = (body: CreateContainerBody, names: ReadonlyArray<string>, secrets: ReadonlyArray<string>) => {
    const attempt = (i: number): Effect.Effect<CreateContainerBody & { readonly id: string }, ContainerNameConflict | RuntimeFailure> => {
      const named = { ...body, name: names[i] ?? body.name }
      return call("create", (signal) => api.createContainer(named, signal), createFailure(named.name, secrets)).pipe(
        Effect.map((id) => ({ ...named, id })),
        Effect.catchTag("ContainerNameConflict", (e) => (i + 1 < names.length ? attempt(i + 1) : Effect.fail(e))),
      )
    }
    return attempt(0)
  }

  // Answered without an inspect: the container is as its body says, and the next list inspects it.
  const create: ContainerRuntime["create"] = (spec, createOptions = {}) =>
    Effect.suspend(() => {
      const body = toCreateBody(spec, scope)
      const names = createOptions.replacement === true ? replacementNamesFor(spec.name, Date.now()) : [body.name]
      return createNamed(body, names, envValuesOf(spec))
    }).pipe(
      Effect.flatMap(({ id, ...body }) => {
        const container = toManagedContainer(createdContainerJson(id, body, new Date().toISOString()), scope)
        if (container === null) return Effect.die(new Error(`container ${id} was created without the labels of scope ${scope}`))
        inventory.note(container)
        return Effect.succeed(container)
      }),
    )

  const start: ContainerRuntime["start"] = (containerId) =>
    managed(containerId).pipe(
      // Attached before the start, so that nothing the server writes at once is missed.
      Effect.tap((container) => Effect.promise(() => follow(container))),
      Effect.andThen(call("start", (signal) => tolerating(hasStatus(304))(api.startContainer(containerId, signal)), startFailure(containerId))),
      Effect.andThen(get(containerId)),
      Effect.tapError((e) => (e._tag === "ContainerNotFound" ? gone(containerId) : Effect.void)),
    )

  const stop: ContainerRuntime["stop"] = (containerId, graceSeconds) =>
    managed(containerId).pipe(
      Effect.andThen(
        call(
          "stop",
          (signal) => tolerating(hasStatus(304))(api.stopContainer(containerId, graceSeconds, signal)),
          notFoundOr("stop", containerId),
          requestTimeoutMs + graceSeconds * 1000,
        ),
      ),
      Effect.andThen(get(containerId)),
      Effect.tapError((e) => (e._tag === "ContainerNotFound" ? gone(containerId) : Effect.void)),
    )

  const remove: ContainerRuntime["remove"] = (containerId) =>
    managed(containerId).pipe(
      Effect.andThen(
        call(
          "remove",
          (signal) => tolerating(isRemoved)(api.removeContainer(containerId, signal)),
          (e) => runtimeFailure("remove", e),
        ),
      ),
      // Absent, or not ours and so invisible: nothing to remove.
      Effect.catchTag("ContainerNotFound", () => Effect.void),
      Effect.andThen(gone(containerId)),
      Effect.asVoid,
    )

  const environmentOf: ContainerRuntime["environmentOf"] = (containerId) =>
    call("inspect", (signal) => api.inspectContainer(containerId, signal), notFoundOr("inspect", containerId)).pipe(
      Effect.flatMap((json) => {
        const labels = decodeLabels(json.Config.Labels, scope)
        if (labels === null) return Effect.fail(new ContainerNotFound({ containerId }))
        return Effect.succeed(environmentFrom(json.Config.Env ?? [], labels.envNames))
      }),
    )

  // Docker's list (one call) says which containers exist and their states; only those new, changed
  // since they were inspected (an event, a state Docker now shows otherwise) or never inspected are.
  const list: ContainerRuntime["list"] = () =>
    keepCurrent.pipe(
      Effect.andThen(Effect.sync(() => inventory.mark())),
      Effect.flatMap((mark) =>
        call(
          "list",
          (signal) => api.listContainers(managedFilter(scope), signal),
          (e) => runtimeFailure("list", e),
        ).pipe(
          Effect.flatMap((listed) => {
            const { current, inspect } = inventory.plan(
              listed.map((c) => ({ id: c.Id, state: c.State })),
              mark,
            )
            const inspectOne = (id: string) => get(id).pipe(Effect.catchTag("ContainerNotFound", () => Effect.succeed(null)))
            return Effect.forEach(inspect, inspectOne, { concurrency: LIST_CONCURRENCY }).pipe(
              Effect.map((inspected) => {
                const fresh = new Map(inspected.flatMap((c) => (c === null ? [] : [[c.containerId, c] as const])))
                return listed.flatMap((c) => current.get(c.Id) ?? fresh.get(c.Id) ?? [])
              }),
            )
          }),
        ),
      ),
    )

  return { ensureImage, imageUser, create, start, stop, remove, get, environmentOf, list }
}

/** The runtime over the Docker daemon dockerode finds by default (`DOCKER_HOST`, else the local socket). */
export const dockerContainerRuntimeFromEnv = (options: DockerContainerRuntimeOptions = {}): ContainerRuntime =>
  makeDockerContainerRuntime(dockerApiOf(newDockerode()), options)
