import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { InstanceNotFound, type NoOAuthConnections } from "../errors.ts"
import type { Isolation } from "../ManagedInstance.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import type { IsolatedInstanceLimit, McpServerNotReady, McpServerUnavailable } from "../mcp/mcpErrors.ts"
import type { McpServerView } from "../mcp/McpServerView.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerEvents } from "../ports/ContainerEvents.ts"
import type { ContainerLogs, LogLine } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances, ManageError, StartError } from "./Instances.ts"
import { makeIsolatedInstances } from "./IsolatedInstances.ts"
import { makeMcpCredentialFlow, type CredentialError } from "./mcpCredentials.ts"
import { DEFAULT_ISOLATED_IDLE_MS, DEFAULT_ISOLATED_MAX, type McpServersSettings } from "./mcpServersSettings.ts"
import { makeServerAdoption } from "./serverAdoption.ts"
import { makeInterpreter } from "./serverInterpreter.ts"
import { makeServerListeners, type McpServerGone } from "./serverListeners.ts"
import { makeServerLookups } from "./serverLookups.ts"
import { makeServerMailboxes } from "./serverMailboxes.ts"
import { makeServerOperations, type Started } from "./serverOperations.ts"
import { makeServerOutput } from "./serverOutput.ts"
import type { EnvRenewal, OAuthConnectionView, ServerCredentials } from "./ServerCredentials.ts"

export type { McpServerGone } from "./serverListeners.ts"
export { sameImage, type Started } from "./serverOperations.ts"

export interface McpServers {
  /** Deploys and answers once the server is initialized and its capabilities listed, or rolls back. */
  deploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>
  /** Takes over every MCP server container found at start-up (after `Instances.reconcile`). */
  adopt(): Effect.Effect<ReadonlyArray<string>, RuntimeFailure>
  /** Replaces a server's container (a new image, say) with zero downtime. */
  redeploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>
  start(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  /**
   * Starts the server unless it is running and answering: starting one that is would reconnect it
   * and cut off every session using it. Decided in the name's turn, after every request before it:
   * a start sent while a deploy or a stop is under way waits for it, then looks.
   */
  startUnlessServing(name: string): Effect.Effect<Started<McpServerView>, StartError | McpServerNotReady>
  stop(name: string): Effect.Effect<McpServerView, ManageError>
  restart(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  /** Drains in-flight calls (bounded), removes the container and forgets the server. */
  remove(name: string): Effect.Effect<void, ManageError>
  isMcpServer(name: string): boolean
  /**
   * Whether `name` is supervised now: a server, or an agent's own instance of a `per_agent` one
   * (which `isMcpServer` denies). What was delivered to a name it denies is nobody's (`wipeLeftoverCredentials`).
   */
  supervises(name: string): boolean
  list(): ReadonlyArray<McpServerView>
  get(name: string): Effect.Effect<McpServerView, InstanceNotFound>
  /**
   * The live session for proxied calls, of a server or of an agent's own instance of one (under the
   * name `instanceFor` gave).
   */
  session(name: string): Effect.Effect<UpstreamSession, InstanceNotFound | McpServerUnavailable>
  /** Whom server `name`'s upstream serves, looked up synchronously; null when no server has the name. */
  isolationOf(name: string): Isolation | null
  /**
   * The name whose session serves `agentId` on server `name`: the server's own when it is `shared`
   * or the caller is no agent (null: the operator, who gets a `per_agent` server's base instance);
   * for an agent on a `per_agent` server, its own instance, created on its first call (the call
   * waits until it is ready; concurrent first calls share one creation), started again if stopped,
   * and marked used now. Refused when the server is not serving (its state is named) or already
   * runs its most instances. Completes at once when the instance is there.
   */
  instanceFor(name: string, agentId: string | null): Effect.Effect<string, InstanceNotFound | McpServerUnavailable | IsolatedInstanceLimit>
  /** Server notifications for `name`, across reconnections, until the returned function is called. */
  subscribe(name: string, listener: (notification: JsonRpcNotification) => void): () => void
  /**
   * Calls `listener` each time a server's client sessions must end, until the returned function is
   * called: the server was removed (by `remove` once drained, by a failed deploy's rollback, or with
   * its container removed behind the DTMA's back), or `redeploy` replaced it by a different image
   * (`sameImage`), as soon as traffic has moved to the new container (the old one then drains).
   * Never for a stop, start, restart, crash, a redeploy of the same image, or when supervision ends.
   */
  subscribeGone(listener: (gone: McpServerGone) => void): () => void
  /**
   * Calls `listener` with a server's name each time how it stands for clients of many servers (`serverListing.ts`) changes, until
   * the returned function is called: it is deployed or adopted, starts or stops taking calls (a live
   * connection or none: crashed, stopped, reconnecting, redeploying to a server that is not ready),
   * its discovered lists change, or it is removed. Told once per change, after the change is in
   * `list()`, `get()` and `session()`, and before the operator's request that made it is answered.
   */
  subscribeListings(listener: (name: string) => void): () => void
  /** The server's output; with `agentId`, that of the agent's own instance of a `per_agent` server. */
  logs(name: string, lines: number, agentId?: string): Effect.Effect<ReadonlyArray<LogLine>, InstanceNotFound | RuntimeFailure>
  /** The server's OAuth connections: states and expiry, never a token. */
  oauth(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound>
  /** Fetches the server's tokens now and delivers them before answering. */
  refreshCredentials(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound | NoOAuthConnections | CredentialError>
}

export interface McpServersDeps {
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly connector: McpConnector
  readonly logs: ContainerLogs
  readonly events: ContainerEvents
  readonly settings: McpServersSettings
  /**
   * Builds the credentials use case, given how an `env_vars` server's container is replaced when its
   * tokens change. Absent: servers asking for OAuth connections are refused (no credential source).
   */
  readonly credentials?: ((onEnvRenewal: EnvRenewal) => Effect.Effect<ServerCredentials, never, Scope.Scope>) | undefined
}

/**
 * Deploys and supervises MCP servers. Every instance name has a mailbox worked through by one fiber
 * (`serverMailboxes.ts`): operator requests (`serverOperations.ts`, `serverAdoption.ts`) and the
 * server's own events (container events, lost connections, timers, pings) go through it in order, so
 * the server's state machine (`serverStateMachine.ts`) sees one at a time and `serverInterpreter.ts`
 * runs what it asks. The agents' own instances of `per_agent` servers are kept by
 * `IsolatedInstances.ts`. Background work lives in the scope this is built in; closing it stops
 * supervising (containers keep running, for the next DTMA to adopt).
 */
export const makeMcpServers = (deps: McpServersDeps): Effect.Effect<McpServers, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { instances, runtime, connector, logs, events, settings } = deps
    const root = yield* Effect.scope
    const fibers = yield* FiberSet.make()
    const runFiber = yield* FiberSet.runtime(fibers)()
    const listeners = makeServerListeners()

    const credentials = deps.credentials === undefined ? undefined : yield* deps.credentials((name) => operations.renewEnv(name))
    const flow = makeMcpCredentialFlow({ instances, runtime, credentials })
    const output = makeServerOutput({
      runtime,
      logs,
      secretsOf: (containerId) => {
        const server = [...mailboxes.values()].find((box) => box.server?.container.containerId === containerId)?.server
        return server == null ? Effect.succeed([]) : flow.tokenValues(server.container)
      },
    })
    const interpreter = makeInterpreter({ instances, runtime, connector, settings, output, root, notify: listeners.notify, announce: listeners.announce })
    const { mailboxes, request } = makeServerMailboxes({
      runFiber,
      apply: interpreter.apply,
      afterMessage: listeners.announceListing,
      viewOf: (server) => lookups.viewWith(server),
    })
    const lookups = makeServerLookups({ mailboxes, interpreter, isolated: () => isolated })
    const isolated = makeIsolatedInstances({
      mailboxes,
      request,
      interpreter,
      flow,
      instances,
      idleMs: settings.isolatedIdleMs ?? DEFAULT_ISOLATED_IDLE_MS,
      max: settings.isolatedMax ?? DEFAULT_ISOLATED_MAX,
      announce: listeners.announce,
    })
    yield* isolated.startReaper(root)
    const operations = makeServerOperations({ request, interpreter, instances, runtime, flow, isolated, announce: listeners.announce, ...lookups })
    const adoption = makeServerAdoption({ mailboxes, request, interpreter, instances, flow, isolated })

    const subscription = yield* events.subscribe({ onEvent: adoption.onEvent, onGap: adoption.onGap })
    yield* Scope.addFinalizer(root, subscription.unsubscribe)

    return {
      deploy: operations.deploy,
      redeploy: operations.redeploy,
      start: operations.start,
      startUnlessServing: operations.startUnlessServing,
      stop: operations.stop,
      restart: operations.restart,
      remove: operations.remove,
      adopt: adoption.adopt,
      isMcpServer: lookups.isMcpServer,
      supervises: lookups.supervises,
      list: lookups.list,
      get: lookups.get,
      instanceFor: isolated.instanceFor,
      isolationOf: lookups.isolationOf,
      session: lookups.session,
      subscribe: listeners.subscribe,
      subscribeGone: listeners.subscribeGone,
      subscribeListings: listeners.subscribeListings,
      logs: (name, lines, agentId) =>
        lookups
          .serverOrAgents(name, agentId)
          .pipe(
            Effect.flatMap((server) =>
              output.maskedLogs(server.container, lines).pipe(Effect.catchTag("ContainerNotFound", () => Effect.fail(new InstanceNotFound({ name })))),
            ),
          ),
      oauth: (name) => lookups.find(name).pipe(Effect.flatMap(() => flow.connections(name))),
      refreshCredentials: (name) => lookups.find(name).pipe(Effect.flatMap((server) => flow.refresh(server.container))),
    }
  })
