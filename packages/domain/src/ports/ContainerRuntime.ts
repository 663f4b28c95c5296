import type * as Effect from "effect/Effect"
import type { ContainerNameConflict, ContainerNotFound, HostPortUnavailable, ImageUnavailable, RuntimeOperationFailed, RuntimeUnavailable } from "../errors.ts"
import type { EnvVar, InstanceSpec, ManagedContainer, PullPolicy } from "../ManagedInstance.ts"
import { token, type Token } from "../Token.ts"

export type RuntimeFailure = RuntimeUnavailable | RuntimeOperationFailed

export interface CreateOptions {
  /** The instance already has a container: this one runs beside it (a zero-downtime replacement). */
  readonly replacement?: boolean | undefined
}

/**
 * Runs containers for managed instances. Everything it returns is a container it created (marked
 * as managed); containers it did not create are invisible to it.
 */
export interface ContainerRuntime {
  /**
   * Makes the image available under the policy: `if_not_present` pulls only when absent, `always`
   * pulls every time, `never` only checks. A failed pull of an absent image is `ImageUnavailable`
   * within a bounded time, never a hang.
   */
  ensureImage(image: string, policy: PullPolicy): Effect.Effect<void, ImageUnavailable | RuntimeFailure>
  /**
   * The user an image's containers run as when none is given (`USER`), as written there
   * (`1000`, `1000:1000`, `node`); null when unset (root). The image must be present.
   */
  imageUser(image: string): Effect.Effect<string | null, ImageUnavailable | RuntimeFailure>
  /**
   * Creates (does not start) the container of the spec, marked as managed and carrying everything
   * `list` needs to rebuild the instance (secrets excluded). The runtime names the container after
   * `spec.name`, mapped to a name it can take where the name itself is not one (the name is reported
   * as `containerName`). A first container of an instance fails `ContainerNameConflict` when any
   * container, managed or not, already holds that container name. With `replacement`, the instance
   * already has a container and the new one is to run beside it: it gets a container name no
   * existing container holds (the plain one when free), so it conflicts with none of the
   * instance's own. The answer is the container as created, before the runtime has looked at it:
   * what it settles later (the image id) may be absent; `start` and `get` answer in full.
   */
  create(spec: InstanceSpec, options?: CreateOptions): Effect.Effect<ManagedContainer, ContainerNameConflict | RuntimeFailure>
  /** Starts the container; idempotent on a running one. */
  start(containerId: string): Effect.Effect<ManagedContainer, ContainerNotFound | HostPortUnavailable | RuntimeFailure>
  /** Stops the container within the grace period, then kills it; idempotent on a stopped one. */
  stop(containerId: string, graceSeconds: number): Effect.Effect<ManagedContainer, ContainerNotFound | RuntimeFailure>
  /** Removes the container, running or not; idempotent: removing an absent container succeeds. */
  remove(containerId: string): Effect.Effect<void, RuntimeFailure>
  /** One managed container, fresh. */
  get(containerId: string): Effect.Effect<ManagedContainer, ContainerNotFound | RuntimeFailure>
  /**
   * The environment the DTMA gave a managed container (values `Redacted`): what a secret may look
   * like, so what the container prints can be masked. Variables the image set itself are left out.
   */
  environmentOf(containerId: string): Effect.Effect<ReadonlyArray<EnvVar>, ContainerNotFound | RuntimeFailure>
  /**
   * Every managed container, whatever its state; only managed ones. Each one's state is as it was
   * when the call began; what else it reports (ports, start time, exit code) may lag a change the
   * runtime has not heard of yet (a restart a moment ago): `get` is always fresh.
   */
  list(): Effect.Effect<ReadonlyArray<ManagedContainer>, RuntimeFailure>
}

export const ContainerRuntime: Token<ContainerRuntime> = token("dtma/ContainerRuntime")
