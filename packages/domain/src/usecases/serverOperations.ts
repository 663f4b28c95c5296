import * as Effect from "effect/Effect"
import { InstanceAlreadyExists, InstanceNotFound, InvalidInstanceSpec } from "../errors.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import type { McpServerNotReady } from "../mcp/mcpErrors.ts"
import type { McpServerView } from "../mcp/McpServerView.ts"
import { firstStep, type ServerEvent, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances, ManageError, StartError } from "./Instances.ts"
import { isolationOf, serving, type IsolatedInstances } from "./IsolatedInstances.ts"
import type { CredentialError, McpCredentialFlow } from "./mcpCredentials.ts"
import type { Interpreter, Mailbox } from "./serverInterpreter.ts"
import type { McpServerGone } from "./serverListeners.ts"
import type { ServerMailboxes } from "./serverMailboxes.ts"
import type { EnvRenewal } from "./ServerCredentials.ts"

/**
 * Whether `next` runs the same server as `previous`: the same image, by id when the runtime reports
 * both (another tag of one image is the same image), else by reference.
 */
export const sameImage = (previous: ManagedContainer, next: ManagedContainer): boolean =>
  previous.imageId != null && next.imageId != null ? previous.imageId === next.imageId : previous.image === next.image

/** How a start went: it did something, or the instance was already up. */
export interface Started<A> {
  readonly outcome: "started" | "already_running"
  readonly value: A
}

export interface ServerOperationsDeps {
  readonly request: ServerMailboxes["request"]
  readonly interpreter: Pick<Interpreter, "begin" | "apply" | "run" | "open" | "drain" | "sessionOf">
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly flow: McpCredentialFlow
  readonly isolated: Pick<IsolatedInstances, "removeAll" | "closingWhile" | "stopAll">
  readonly announce: (name: string, reason: McpServerGone["reason"]) => void
  /** A server as callers name it (never an agent's own instance), read when the effect runs. */
  readonly find: (name: string) => Effect.Effect<SupervisedServer, InstanceNotFound>
  /** The view of a server, with its agents' instances when it is `per_agent`. */
  readonly viewWith: (server: SupervisedServer) => McpServerView
}

/**
 * The operator's operations on a server, each run in the server's mailbox: deploy, redeploy, start,
 * stop, restart and remove, and the redeploy an `env_vars` server's new tokens need. A `per_agent`
 * server's operation reaches its agents' instances too.
 */
export const makeServerOperations = (deps: ServerOperationsDeps) => {
  const { request, interpreter, instances, runtime, flow, isolated, announce, find, viewWith } = deps
  const { begin, apply, run, open, drain, sessionOf } = interpreter

  /** The server under `box`, for an operator's request that needs one. */
  const serverIn = (box: Mailbox): Effect.Effect<SupervisedServer, InstanceNotFound> =>
    box.server === null ? Effect.fail(new InstanceNotFound({ name: box.name })) : Effect.succeed(box.server)

  /** An operator's event for the name's server. */
  const command = (name: string, event: ServerEvent) => request(name, (box) => serverIn(box).pipe(Effect.andThen(apply(box, event))))

  const deploy = (deployRequest: DeployRequest) =>
    deployRequest.mcp == null
      ? Effect.fail(new InvalidInstanceSpec({ field: "transport", problem: "is required for an MCP server" }))
      : (request(deployRequest.name, (box) =>
          Effect.gen(function* () {
            const { name } = deployRequest
            if (box.server !== null) return yield* new InstanceAlreadyExists({ name })
            if (deployRequest.oauth != null) yield* flow.ensureAbsent(name)
            // Credentials are readied for a name only in its mailbox: a losing deploy never wipes the winner's.
            const readied = yield* flow.readied(deployRequest)
            const container = yield* instances.deploy(readied).pipe(Effect.tapError(() => (deployRequest.oauth == null ? Effect.void : flow.release(name))))
            yield* begin(box, firstStep(container, "deploy")).pipe(Effect.tapError(() => flow.release(name)))
            yield* flow.track(container, deployRequest)
          }),
        ) as Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>)

  /**
   * Zero downtime: the new container starts beside the old one and is made ready; only then does
   * traffic move to it, the old connection drains (bounded) and the old container goes. A
   * replacement that does not become ready is removed and the old one keeps serving.
   */
  const redeploy = (deployRequest: DeployRequest) =>
    request(deployRequest.name, (box) =>
      Effect.gen(function* () {
        const server = yield* serverIn(box)
        const fresh = yield* instances.deployReplacement(yield* flow.readied(deployRequest))
        const opened = yield* open(box, fresh).pipe(Effect.tapError(() => runtime.remove(fresh.containerId).pipe(Effect.ignore)))
        // A session chose its upstream (the base instance or the agent's own) by the isolation it opened under: a new isolation ends it.
        const sameServer = sameImage(server.container, opened.container) && isolationOf(server) === isolationOf({ ...server, container: opened.container })
        yield* apply(box, { _tag: "Replaced", connection: opened.connection, container: opened.container, snapshot: opened.snapshot, sameServer })
        yield* flow.track(opened.container, deployRequest)
        // The agents' instances ran what was replaced: they go, with their sessions; each agent's next call makes a new one.
        if ((yield* isolated.removeAll(deployRequest.name)) > 0) announce(deployRequest.name, "replaced")
      }),
    ) as Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>

  // An env_vars server's new tokens reach it only in a new container: the zero-downtime redeploy.
  const renewEnv: EnvRenewal = (name) =>
    find(name).pipe(
      Effect.flatMap((server) => flow.replay(server.container)),
      Effect.flatMap(redeploy),
    )

  const start = (name: string, restart: boolean) =>
    command(name, { _tag: "StartRequested", restart }) as Effect.Effect<McpServerView, StartError | McpServerNotReady>

  // The agents' instances stop with their server; each starts again on its agent's next call.
  const stop = (name: string) =>
    (command(name, { _tag: "StopRequested" }) as Effect.Effect<McpServerView, ManageError>).pipe(
      Effect.tap(() => isolated.stopAll(name)),
      Effect.flatMap((view) =>
        find(name).pipe(
          Effect.map(viewWith),
          Effect.orElseSucceed(() => view),
        ),
      ),
    )

  const startUnlessServing = (name: string) =>
    Effect.suspend(() => {
      let outcome: Started<McpServerView>["outcome"] = "started"
      const work = (box: Mailbox) =>
        serverIn(box).pipe(
          Effect.flatMap((server) => {
            if (!serving(server)) return apply(box, { _tag: "StartRequested", restart: false })
            outcome = "already_running"
            return Effect.void
          }),
        )
      return request(name, work).pipe(Effect.map((view) => ({ outcome, value: view as McpServerView })))
    }) as Effect.Effect<Started<McpServerView>, StartError | McpServerNotReady>

  const remove = (name: string) =>
    request(name, (box) =>
      isolated.closingWhile(
        name,
        Effect.gen(function* () {
          // The agents' instances go first (no new one is made from here on): no container of the server is left behind.
          yield* isolated.removeAll(name)
          if (box.server !== null) {
            // Drain: calls in flight finish (bounded) before the container goes.
            const live = sessionOf(box)
            if (live !== undefined) yield* drain(live)
            yield* run(box, { _tag: "CancelTimers" })
            yield* run(box, { _tag: "Forget" })
          }
          // And again: whatever a call that raced the removal's start made goes too.
          yield* isolated.removeAll(name)
          yield* instances.remove(name)
          yield* flow.release(name)
        }),
      ),
    ).pipe(Effect.asVoid) as Effect.Effect<void, ManageError>

  return {
    deploy,
    redeploy,
    renewEnv,
    start: (name: string) => start(name, false),
    startUnlessServing,
    stop,
    restart: (name: string) => stop(name).pipe(Effect.andThen(start(name, true))),
    remove,
  }
}
