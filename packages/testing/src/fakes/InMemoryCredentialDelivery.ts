import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import {
  CredentialDeliveryFailed,
  isSafeSegment,
  SECRETS_DIR,
  secretFilesOf,
  SOCKET_DIR,
  socketDocumentOf,
  tokenDocumentOf,
  type ContainerOwner,
  type CredentialDelivery,
  type DeliveryMount,
  type DeliveryProblem,
  type LiveInjectionMethod,
  type OAuthCredential,
} from "@dtma/domain"
import type { DeliveredView, SocketReply } from "../DeliveredView.ts"

export interface InMemoryCredentialDeliveryOptions {
  /** Whether the host directory is on memory; when false, provision fails `not_memory_backed` unless `allowDisk`. Default true. */
  readonly memoryBacked?: boolean
  readonly allowDisk?: boolean
}

interface Delivered {
  readonly method: LiveInjectionMethod
  readonly owner: ContainerOwner
  credentials: ReadonlyArray<OAuthCredential>
}

/**
 * A stateful stand-in for `TmpfsCredentialDelivery`: what each instance is delivered, held in
 * memory, with the real adapter's refusals (`unsafe_name`, `not_provisioned`, `not_memory_backed`)
 * and injectable I/O failures. `read(name)` shows what the instance's server would see.
 */
export class InMemoryCredentialDelivery implements CredentialDelivery {
  readonly #delivered = new Map<string, Delivered>()
  readonly #failures: Array<Extract<DeliveryProblem, "io_failed" | "not_memory_backed">> = []
  readonly #memoryBacked: boolean
  readonly #allowDisk: boolean
  /** Every call, in order (names only). */
  readonly calls: Array<{ readonly op: "provision" | "publish" | "wipe"; readonly name: string }> = []

  constructor(options: InMemoryCredentialDeliveryOptions = {}) {
    this.#memoryBacked = options.memoryBacked ?? true
    this.#allowDisk = options.allowDisk ?? false
  }

  /** The next provisions or publishes fail with these reasons, one each; a failed provision leaves nothing. */
  failNext(...reasons: ReadonlyArray<Extract<DeliveryProblem, "io_failed" | "not_memory_backed">>): void {
    this.#failures.push(...reasons)
  }

  /** How the instance is delivered to now, with its owner and credentials; undefined when it is not. */
  deliveredTo(
    name: string,
  ): { readonly method: LiveInjectionMethod; readonly owner: ContainerOwner; readonly credentials: ReadonlyArray<OAuthCredential> } | undefined {
    const d = this.#delivered.get(name)
    return d === undefined ? undefined : { ...d }
  }

  /** What the instance's server sees: files under `/run/secrets/dtma`, or the socket's answers (live). */
  read(name: string): DeliveredView {
    const d = this.#delivered.get(name)
    if (d === undefined) return { files: {}, socket: null }
    if (d.method === "runtime_api") return { files: {}, socket: (path, method = "GET") => Promise.resolve(socketReplyOf(method, path, d.credentials)) }
    return { files: filesOf(d.credentials), socket: null }
  }

  provision(request: Parameters<CredentialDelivery["provision"]>[0]): Effect.Effect<ReadonlyArray<DeliveryMount>, CredentialDeliveryFailed> {
    return Effect.suspend(() => {
      const { name, method, owner, credentials } = request
      this.calls.push({ op: "provision", name })
      const unsafe = unsafeNameIn(credentials)
      if (unsafe !== null) return Effect.fail(new CredentialDeliveryFailed({ name, reason: "unsafe_name", detail: unsafe }))
      if (!this.#memoryBacked && !this.#allowDisk)
        return Effect.fail(new CredentialDeliveryFailed({ name, reason: "not_memory_backed", detail: "the delivery root is on a disk" }))
      const injected = this.#failures.shift()
      if (injected !== undefined) {
        this.#delivered.delete(name)
        return Effect.fail(new CredentialDeliveryFailed({ name, reason: injected, detail: "injected failure; nothing was left behind" }))
      }
      this.#delivered.set(name, { method, owner, credentials })
      const host = `/memory/dtma/${method === "mounted_secrets" ? "secrets" : "sockets"}/${encodeURIComponent(name)}`
      return Effect.succeed([{ hostPath: host, containerPath: method === "mounted_secrets" ? SECRETS_DIR : SOCKET_DIR }])
    })
  }

  publish(name: string, credentials: ReadonlyArray<OAuthCredential>): Effect.Effect<void, CredentialDeliveryFailed> {
    return Effect.suspend(() => {
      this.calls.push({ op: "publish", name })
      const d = this.#delivered.get(name)
      if (d === undefined) return Effect.fail(new CredentialDeliveryFailed({ name, reason: "not_provisioned", detail: `'${name}' is not provisioned here` }))
      const unsafe = unsafeNameIn(credentials)
      if (unsafe !== null) return Effect.fail(new CredentialDeliveryFailed({ name, reason: "unsafe_name", detail: unsafe }))
      const injected = this.#failures.shift()
      if (injected !== undefined) return Effect.fail(new CredentialDeliveryFailed({ name, reason: injected, detail: "injected failure" }))
      d.credentials = credentials
      return Effect.void
    })
  }

  wipe(name: string): Effect.Effect<void> {
    return Effect.sync(() => {
      this.calls.push({ op: "wipe", name })
      this.#delivered.delete(name)
    })
  }

  provisioned(): Effect.Effect<ReadonlyArray<string>> {
    return Effect.sync(() => [...this.#delivered.keys()].sort())
  }
}

/** The same refusals as the real adapter: ids that cannot name one path segment, or a provider named `connections`. */
const unsafeNameIn = (credentials: ReadonlyArray<OAuthCredential>): string | null => {
  for (const c of credentials) {
    if (!isSafeSegment(c.provider)) return `provider ${JSON.stringify(c.provider)} cannot name a directory`
    if (c.provider === "connections") return "provider 'connections' would collide with the connections directory"
    if (!isSafeSegment(c.connectionId)) return `connection id ${JSON.stringify(c.connectionId)} cannot name a directory`
  }
  return null
}

const filesOf = (credentials: ReadonlyArray<OAuthCredential>): Record<string, string> =>
  Object.fromEntries(
    secretFilesOf(credentials).flatMap(({ dir, credential }) => [
      [`${dir}/access_token`, Redacted.value(credential.accessToken)],
      [`${dir}/token.json`, `${JSON.stringify(tokenDocumentOf(credential), null, 2)}\n`],
    ]),
  )

const socketReplyOf = (method: string, path: string, credentials: ReadonlyArray<OAuthCredential>): SocketReply => {
  const route = path.split("?")[0] ?? ""
  if (route !== "/v1/credentials" && !route.startsWith("/v1/credentials/")) return { status: 404, body: { error: "not_found" } }
  if (method !== "GET") return { status: 405, body: { error: "method_not_allowed" } }
  if (route === "/v1/credentials" || route === "/v1/credentials/") return { status: 200, body: socketDocumentOf(credentials) }
  const provider = decoded(route.slice("/v1/credentials/".length))
  const credential = credentials.find((c) => c.provider === provider)
  return credential === undefined ? { status: 404, body: { error: "not_found" } } : { status: 200, body: tokenDocumentOf(credential) }
}

const decoded = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
