import type * as Redacted from "effect/Redacted"
import type { DeliveryMount, InjectionMethod } from "./ports/CredentialDelivery.ts"

/** When the DTMA asks the backend for a server's tokens again (`refreshStrategy`). */
export type RefreshStrategy = "on_expiry" | "periodic" | "on_demand"

/** Which OAuth connections a server gets and how: everything but the tokens themselves. */
export interface OAuthBinding {
  readonly agentId: string
  readonly connectionIds: ReadonlyArray<string>
  readonly requiredScopes: ReadonlyArray<string>
  readonly method: InjectionMethod
  readonly refreshStrategy: RefreshStrategy
  /** With `periodic`: seconds between refreshes. */
  readonly refreshIntervalSeconds: number | null
  /** The container's user, resolved at deploy: whom delivered files belong to after a DTMA restart. */
  readonly containerUser?: string | null | undefined
}

export type InstanceKind = "standard_tool" | "mcp_server"

export type McpTransport = "stdio" | "sse" | "websocket" | "streamable_http"

/** A container's state as container runtimes report it, and as callers of the legacy API read it. */
export type ContainerState = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead"

export type PullPolicy = "if_not_present" | "always" | "never"

export interface EnvVar {
  readonly name: string
  /** Environment values may be secrets: only the runtime adapter unwraps them. */
  readonly value: Redacted.Redacted<string>
}

export interface PortRequest {
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
  readonly hostIp: string
  /** `null` lets the runtime choose a free port. */
  readonly hostPort: number | null
}

export interface PublishedPort {
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
  readonly hostIp: string
  readonly hostPort: number | null
}

/**
 * Whom a server's upstream serves: `shared`, one for every session (the default); `per_agent`, each
 * agent its own (a container of its own for stdio, a connection of its own for network transports).
 */
export type Isolation = "shared" | "per_agent"

export interface McpSettings {
  readonly transport: McpTransport
  readonly endpointPath: string | null
  readonly port: number | null
  /** Absent: `shared`. */
  readonly isolation?: Isolation | undefined
}

/** The server and the agent an instance of a `per_agent` server is for (kept with its container: never a secret). */
export interface IsolatedFor {
  readonly server: string
  /** The agent's id (its token's `sub`). */
  readonly agent: string
}

/** What a caller may set beyond image, command, env and ports, within the operator's bounds. */
export interface ContainerOverrides {
  readonly entrypoint: ReadonlyArray<string> | null
  readonly workingDir: string | null
  readonly user: string | null
  /** The caller's own labels; `dtma.*` is reserved. */
  readonly labels: Readonly<Record<string, string>>
  readonly memoryBytes: number | null
  readonly nanoCpus: number | null
  readonly pidsLimit: number | null
  /** Extra tmpfs mounts: path → mount options. */
  readonly tmpfs: Readonly<Record<string, string>>
}

/**
 * What a deploy asked for beyond the image, the environment and the transport, kept with the
 * container (no secret in it: environment values are not part of it) so that a DTMA that adopted it
 * can create it again the same way.
 */
export interface DeployRecipe {
  readonly command: ReadonlyArray<string> | null
  readonly ports: ReadonlyArray<PortRequest>
  readonly pullPolicy: PullPolicy
  readonly overrides: ContainerOverrides | null
}

/** Everything needed to create the container of an instance. */
export interface InstanceSpec {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly image: string
  readonly kind: InstanceKind
  readonly env: ReadonlyArray<EnvVar>
  readonly ports: ReadonlyArray<PortRequest>
  readonly pullPolicy: PullPolicy
  readonly mcp: McpSettings | null
  /** Arguments replacing the image's default command; null keeps the image's. */
  readonly command: ReadonlyArray<string> | null
  /** Absent: the runtime's defaults for the kind. */
  readonly overrides?: ContainerOverrides | undefined
  /** The server's OAuth connections (no token: it is kept in the container's records). */
  readonly oauth?: OAuthBinding | null | undefined
  /** Host directories the DTMA delivers credentials in, bind-mounted read-only. */
  readonly mounts?: ReadonlyArray<DeliveryMount> | undefined
  /** Set on an agent's own instance of a `per_agent` server; absent or null for any other. */
  readonly isolatedFor?: IsolatedFor | null | undefined
}

/** A container the DTMA manages, as the runtime reports it. */
export interface ManagedContainer {
  readonly containerId: string
  /** What the runtime named the container (the instance name, or one derived from it). */
  readonly containerName: string
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly kind: InstanceKind
  readonly image: string
  /**
   * The id of the image the container runs (its content digest, `sha256:…`): two tags of one image share it.
   * Absent or null when the runtime does not say.
   */
  readonly imageId?: string | null | undefined
  readonly state: ContainerState
  /** Unix seconds. */
  readonly createdAt: number
  readonly startedAt: string | null
  readonly exitCode: number | null
  readonly ports: ReadonlyArray<PublishedPort>
  readonly mcp: McpSettings | null
  /** The server's OAuth connections and how they are delivered; absent or null for none. */
  readonly oauth?: OAuthBinding | null | undefined
  /** How it was deployed; absent or null when not known (a container of an earlier version). */
  readonly recipe?: DeployRecipe | null | undefined
  /** Set on an agent's own instance of a `per_agent` server; absent or null for any other. */
  readonly isolatedFor?: IsolatedFor | null | undefined
}
