import { Effect } from "effect"
import { InstanceAlreadyExists, InstanceNotFound } from "../errors.ts"
import type { ManagedContainer, OAuthBinding } from "../ManagedInstance.ts"
import type { CredentialDeliveryFailed } from "../ports/CredentialDelivery.ts"
import { CredentialFetchFailed } from "../ports/CredentialSource.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import { checkOAuthBinding, type DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances } from "./Instances.ts"
import type { CredentialHolder, ServerCredentials } from "./ServerCredentials.ts"

export type CredentialError = CredentialFetchFailed | CredentialDeliveryFailed

/** How MCP servers get their OAuth tokens into their containers; the glue between McpServers and ServerCredentials. */
export interface McpCredentialFlow {
  /**
   * The request with the server's credential environment and mounts added, tokens fetched and
   * delivery readied. A request without OAuth passes through. Nothing is left delivered on failure.
   */
  readied(request: DeployRequest): Effect.Effect<DeployRequest, DeployError | CredentialError>
  /** Whether the name is free: credentials are never readied over a deployed server's. */
  ensureAbsent(name: string): Effect.Effect<void, DeployError>
  holderOf(container: ManagedContainer): CredentialHolder | null
}

const NO_SOURCE = new CredentialFetchFailed({ reason: "unavailable", connectionId: null, detail: "this DTMA has no credential source configured (AGENTOPIA_API_BASE_URL and DTMA_BEARER_TOKEN)" })

export const holderOf = (container: { readonly name: string; readonly accountToolInstanceId: string | null; readonly oauth?: OAuthBinding | null | undefined }): CredentialHolder | null =>
  container.oauth == null ? null : { name: container.name, accountToolInstanceId: container.accountToolInstanceId, binding: container.oauth }

export const makeMcpCredentialFlow = (deps: {
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly credentials: ServerCredentials | undefined
}): McpCredentialFlow => {
  const { instances, runtime, credentials } = deps

  const readied: McpCredentialFlow["readied"] = (request) =>
    Effect.gen(function* () {
      if (request.oauth == null) return request
      const binding = yield* checkOAuthBinding(request.oauth)
      if (credentials === undefined) return yield* NO_SOURCE
      yield* runtime.ensureImage(request.image, request.pullPolicy ?? "if_not_present")
      const user = request.overrides?.user ?? (yield* runtime.imageUser(request.image))
      const prepared = yield* credentials.prepare({ name: request.name, accountToolInstanceId: request.accountToolInstanceId, binding }, user)
      const taken = new Set(prepared.env.map((e) => e.name))
      return {
        ...request,
        env: [...request.env.filter((e) => !taken.has(e.name)), ...prepared.env],
        mounts: prepared.mounts,
        oauth: { ...binding, containerUser: user },
      }
    })

  const ensureAbsent: McpCredentialFlow["ensureAbsent"] = (name) =>
    instances.find(name).pipe(
      Effect.flatMap(() => Effect.fail(new InstanceAlreadyExists({ name }))),
      Effect.catchTag("InstanceNotFound", (_: InstanceNotFound) => Effect.void),
    )

  return { readied, ensureAbsent, holderOf }
}
