import * as Effect from "effect/Effect"
import { makeKeyedLock, type CredentialDelivery, type CredentialDeliveryFailed, type OAuthCredential } from "@dtma/domain"
import { deliveryPathsOf } from "./deliveryPaths.ts"
import { failed, provisionOnDisk, publishOnDisk, removeFromDisk, type Deliveries } from "./deliveryOnDisk.ts"
import { listIndex } from "./instanceIndex.ts"
import { unsafeNameIn } from "./unsafeNameIn.ts"

export interface TmpfsCredentialDeliveryOptions {
  /**
   * Host directory holding every instance's deliveries, e.g. `/run/dtma`; see `ensureMemoryBacked`.
   * At most 44 bytes: a socket path (`<root>/sockets/<37>/credentials.sock`) may not exceed 107.
   */
  readonly root: string
  /** Deliver even when `root` is disk-backed (`DTMA_CREDENTIALS_ALLOW_DISK`). Default false. */
  readonly allowDisk?: boolean
  /** Failures nobody awaits (a wipe that could not remove a file, a broken socket). Never a token. */
  readonly onError?: (problem: { readonly name: string; readonly detail: string }) => void
}

/** The `CredentialDelivery`, plus `close` for a DTMA shutting down. */
export interface TmpfsCredentialDelivery extends CredentialDelivery {
  /** Stops every socket server, leaving files and index in place: the next DTMA re-provisions or wipes them. */
  close(): Effect.Effect<void>
}

/**
 * Delivers credentials from a memory-backed host directory. Under `root`:
 * `secrets/<dir>/` (files, mounted at `/run/secrets/dtma`), `sockets/<dir>/credentials.sock`
 * (mounted at `/run/dtma`) and `index/<dir>` (the instance's name, never mounted), where `<dir>` is
 * `instanceDirOf(name)`. Provision checks that `root` is still on memory (unless `allowDisk`).
 * Directories are reused on re-provision, so a container that already bind-mounts one (adopted after
 * a DTMA restart) sees the new files and the new socket. Operations on one instance are serialised.
 */
export const makeTmpfsCredentialDelivery = (options: TmpfsCredentialDeliveryOptions): TmpfsCredentialDelivery => {
  const { root } = options
  const report = options.onError ?? (() => undefined)
  const deliveries: Deliveries = new Map()
  const lock = makeKeyedLock()

  const refuseUnsafe = (name: string, credentials: ReadonlyArray<OAuthCredential>): Effect.Effect<void, CredentialDeliveryFailed> => {
    const problem = unsafeNameIn(credentials)
    return problem === null ? Effect.void : Effect.fail(failed(name, "unsafe_name", problem))
  }

  const tryIo = <A>(name: string, io: () => Promise<A>): Effect.Effect<A, CredentialDeliveryFailed> =>
    Effect.tryPromise({ try: io, catch: (e) => (isDeliveryFailure(e) ? e : failed(name, "io_failed", String(e))) })

  return {
    provision: (request) =>
      lock(
        request.name,
        refuseUnsafe(request.name, request.credentials).pipe(
          Effect.andThen(tryIo(request.name, () => provisionOnDisk({ root, allowDisk: options.allowDisk ?? false, deliveries, report }, request))),
        ),
      ),

    publish: (name, credentials) =>
      lock(
        name,
        Effect.suspend(() => {
          const delivery = deliveries.get(name)
          if (delivery === undefined) return Effect.fail(failed(name, "not_provisioned", `'${name}' is not provisioned here`))
          return refuseUnsafe(name, credentials).pipe(Effect.andThen(tryIo(name, () => publishOnDisk(delivery, credentials))))
        }),
      ),

    wipe: (name) =>
      lock(
        name,
        Effect.promise(() => removeFromDisk(deliveryPathsOf(root, name), deliveries, name, report)),
      ),

    provisioned: () => Effect.promise(() => listIndex(root, report)),

    close: () =>
      Effect.promise(async () => {
        await Promise.all([...deliveries.values()].map((d) => d.socket?.close()))
        deliveries.clear()
      }),
  }
}

const isDeliveryFailure = (e: unknown): e is CredentialDeliveryFailed =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "CredentialDeliveryFailed"
