import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { OAuthCredential } from "./CredentialSource.ts"
import { token, type Token } from "../Token.ts"

/** How a server receives its OAuth tokens (`credentialInjectionMethod`). */
export type InjectionMethod = "mounted_secrets" | "runtime_api" | "env_vars"

/** The two methods that keep tokens out of the container runtime's records: the ones a `CredentialDelivery` serves. */
export type LiveInjectionMethod = Exclude<InjectionMethod, "env_vars">

/** The numeric user a container runs as: delivered files and sockets belong to it, readable by it alone. */
export interface ContainerOwner {
  readonly uid: number
  readonly gid: number
}

/** A host directory bind-mounted read-only into the container. */
export interface DeliveryMount {
  readonly hostPath: string
  readonly containerPath: string
}

/**
 * `not_memory_backed`: the host directory is on a disk; `io_failed`: the filesystem or socket failed;
 * `unsafe_name`: a provider or connection id cannot name a path; `not_provisioned`: publishing to an
 * instance that was never provisioned, or was wiped.
 */
export type DeliveryProblem = "not_memory_backed" | "io_failed" | "unsafe_name" | "not_provisioned"

/** The DTMA could not place credentials where the server finds them. Never carries a token. */
export class CredentialDeliveryFailed extends Data.TaggedError("CredentialDeliveryFailed")<{
  readonly name: string
  readonly reason: DeliveryProblem
  readonly detail: string
}> {
  override get message(): string {
    return `Could not deliver credentials to '${this.name}' (${this.reason}): ${this.detail}`
  }
}

/**
 * Puts an instance's current OAuth tokens where its container reads them, on memory only: files
 * under `/run/secrets/dtma` (`mounted_secrets`) or a Unix socket at `/run/dtma/credentials.sock`
 * (`runtime_api`), from a host directory private to the instance. Token values never touch a
 * disk-backed filesystem.
 */
export interface CredentialDelivery {
  /**
   * Creates the instance's private directory (or socket) holding `credentials`, owned by `owner`,
   * and says what to bind-mount. Idempotent: provisioning an instance again replaces what it had
   * (a DTMA restart re-provisions the instances it adopts). On failure nothing is left behind.
   */
  provision(request: {
    readonly name: string
    readonly method: LiveInjectionMethod
    readonly owner: ContainerOwner
    readonly credentials: ReadonlyArray<OAuthCredential>
  }): Effect.Effect<ReadonlyArray<DeliveryMount>, CredentialDeliveryFailed>
  /**
   * Makes `credentials` the instance's from now on: files are replaced atomically (a reader sees the
   * old or the new token, never a torn one); the socket answers the new ones on the next read.
   * Fails `not_provisioned` when the instance is not provisioned (or was wiped).
   */
  publish(name: string, credentials: ReadonlyArray<OAuthCredential>): Effect.Effect<void, CredentialDeliveryFailed>
  /** Removes the instance's directory and socket. Idempotent: wiping an unknown instance succeeds. */
  wipe(name: string): Effect.Effect<void>
  /** The instances something is delivered to (leftovers of a previous DTMA are wiped at start). */
  provisioned(): Effect.Effect<ReadonlyArray<string>>
}

export const CredentialDelivery: Token<CredentialDelivery> = token("dtma/CredentialDelivery")
