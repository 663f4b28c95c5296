import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { InstanceAlreadyExists, NoOAuthConnections, type InstanceNotFound } from "../errors.ts"
import type { ManagedContainer, OAuthBinding } from "../ManagedInstance.ts"
import type { CredentialDeliveryFailed } from "../ports/CredentialDelivery.ts"
import { CredentialFetchFailed } from "../ports/CredentialSource.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import { checkOAuthBinding, checkUser, type DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances } from "./Instances.ts"
import type { CredentialHolder, OAuthConnectionView, ServerCredentials } from "./ServerCredentials.ts"

export type CredentialError = CredentialFetchFailed | CredentialDeliveryFailed

/** How MCP servers get their OAuth tokens into their containers: the glue between McpServers and ServerCredentials. */
export interface McpCredentialFlow {
  /**
   * The request with the server's credential environment and mounts added, tokens fetched and
   * delivery readied. A request without OAuth passes through. Nothing is left delivered on failure.
   */
  readied(request: DeployRequest): Effect.Effect<DeployRequest, DeployError | CredentialError>
  /** Whether the name is free: credentials are never readied over a deployed server's. */
  ensureAbsent(name: string): Effect.Effect<void, DeployError>
  /** The server now runs `container`, deployed from `request`: keep its tokens fresh. */
  track(container: ManagedContainer, request: DeployRequest): Effect.Effect<void>
  /** Stops keeping the server's tokens and wipes what was delivered. Idempotent. */
  release(name: string): Effect.Effect<void>
  /**
   * A restarted DTMA holds no token (none was ever stored): fetches an adopted server's again and
   * restores their delivery, retrying with backoff while the backend cannot answer. Runs until it
   * succeeds: the caller forks it where the server's background work lives, so removal ends it.
   */
  restore(container: ManagedContainer): Effect.Effect<void>
  /**
   * The request a server was last deployed with; for one adopted after a restart, rebuilt from its
   * container (image, the DTMA-set environment, transport, OAuth binding, and the recipe: command,
   * ports, pull policy, overrides; a container without one gets the image's defaults).
   */
  replay(container: ManagedContainer): Effect.Effect<DeployRequest, InstanceNotFound | RuntimeFailure>
  connections(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>>
  /** The OAuth token values the container holds now, to mask in what it prints. */
  tokenValues(container: ManagedContainer): Effect.Effect<ReadonlyArray<string>>
  refresh(container: ManagedContainer): Effect.Effect<ReadonlyArray<OAuthConnectionView>, NoOAuthConnections | CredentialError>
}

const NO_SOURCE = new CredentialFetchFailed({
  reason: "unavailable",
  connectionId: null,
  detail: "this DTMA has no credential source configured (AGENTOPIA_API_BASE_URL and DTMA_BEARER_TOKEN)",
})

export const holderOf = (container: {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly oauth?: OAuthBinding | null | undefined
}): CredentialHolder | null =>
  container.oauth == null ? null : { name: container.name, accountToolInstanceId: container.accountToolInstanceId, binding: container.oauth }

export const makeMcpCredentialFlow = (deps: {
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly credentials: ServerCredentials | undefined
}): McpCredentialFlow => {
  const { instances, runtime, credentials } = deps
  /** The last request each server was deployed with (its own env, without credentials): what a token renewal replays. */
  const requests = new Map<string, DeployRequest>()

  const readied: McpCredentialFlow["readied"] = (request) =>
    Effect.gen(function* () {
      if (request.oauth == null) return request
      const binding = yield* checkOAuthBinding(request.oauth, request.ports)
      if (credentials === undefined) return yield* NO_SOURCE
      yield* runtime.ensureImage(request.image, request.pullPolicy ?? "if_not_present")
      // The caller's User is checked before any token is fetched for it.
      const user = request.overrides?.user == null ? yield* runtime.imageUser(request.image) : yield* checkUser(request.overrides.user, "mcp_server")
      const prepared = yield* credentials.prepare({ name: request.name, accountToolInstanceId: request.accountToolInstanceId, binding }, user)
      const taken = new Set(prepared.env.map((e) => e.name))
      return {
        ...request,
        env: [...request.env.filter((e) => !taken.has(e.name)), ...prepared.env],
        mounts: prepared.mounts,
        oauth: { ...binding, containerUser: user },
      }
    })

  const release: McpCredentialFlow["release"] = (name) =>
    Effect.suspend(() => {
      requests.delete(name)
      return credentials === undefined ? Effect.void : credentials.release(name)
    })

  const restore: McpCredentialFlow["restore"] = (container) => {
    const holder = holderOf(container)
    if (holder === null || credentials === undefined) return Effect.void
    const once = credentials.prepare(holder, holder.binding.containerUser ?? null).pipe(Effect.andThen(credentials.track(holder)))
    return Effect.gen(function* () {
      for (let delay = 1_000; ; delay = Math.min(delay * 2, 60_000)) {
        if (Exit.isSuccess(yield* Effect.exit(once))) return
        yield* Effect.sleep(delay)
      }
    })
  }

  return {
    readied,
    ensureAbsent: (name) =>
      instances.find(name).pipe(
        Effect.flatMap(() => Effect.fail(new InstanceAlreadyExists({ name }))),
        Effect.catchTag("InstanceNotFound", () => Effect.void),
      ),
    track: (container, request) =>
      Effect.suspend(() => {
        requests.set(container.name, request)
        const holder = holderOf(container)
        if (holder !== null) return credentials === undefined ? Effect.void : credentials.track(holder)
        // Redeployed without OAuth: what the old container had is wiped.
        return credentials?.isTracked(container.name) === true ? credentials.release(container.name) : Effect.void
      }),
    release,
    restore,
    replay: (container) =>
      Effect.suspend(() => {
        const known = requests.get(container.name)
        if (known !== undefined) return Effect.succeed(known)
        return runtime.environmentOf(container.containerId).pipe(
          Effect.catchTag("ContainerNotFound", () => Effect.succeed([])),
          Effect.map((env): DeployRequest => {
            const recipe = container.recipe ?? null
            return {
              name: container.name,
              accountToolInstanceId: container.accountToolInstanceId,
              image: container.image,
              env,
              ports: recipe?.ports ?? [],
              mcp: container.mcp,
              oauth: container.oauth ?? null,
              ...(recipe === null
                ? {}
                : { command: recipe.command, pullPolicy: recipe.pullPolicy, ...(recipe.overrides === null ? {} : { overrides: recipe.overrides }) }),
            }
          }),
        )
      }),
    tokenValues: (container) =>
      container.oauth == null || credentials === undefined ? Effect.succeed([]) : credentials.tokenValues(container.oauth.connectionIds),
    connections: (name) => (credentials === undefined ? Effect.succeed([]) : credentials.connections(name)),
    refresh: (container) =>
      container.oauth == null || credentials === undefined
        ? Effect.fail(new NoOAuthConnections({ name: container.name }))
        : credentials.refresh(container.name),
  }
}
