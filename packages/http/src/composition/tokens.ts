import type * as Scope from "effect/Scope"
import type { DockerOutputCapture } from "@dtma/adapters"
import { token, type Heartbeat, type Instances, type McpServers, type Token } from "@dtma/domain"
import type { Container } from "inversify"
import type { Config } from "./config.ts"
import type { AuditDelivery } from "./auditTrail.ts"
import type { Logger } from "./logger.ts"

/**
 * Container tokens for what the http package binds; the ports' own tokens (`ContainerRuntime`,
 * `ControlPlane`, `HostMetrics`, `McpConnector`, …) are declared beside the ports in the domain.
 * Each carries the type bound to it: `resolve` needs no cast.
 */
export const Tokens = {
  Instances: token<Instances>("dtma/Instances"),
  Heartbeat: token<Heartbeat>("dtma/Heartbeat"),
  McpServers: token<McpServers>("dtma/McpServers"),
  Config: token<Config>("dtma/Config"),
  Logger: token<Logger>("dtma/Logger"),
  /** The scope the use cases' background work lives in; closing it stops that work. */
  Lifetime: token<Scope.Closeable>("dtma/Lifetime"),
  /** The adapters' Docker output capture, shared by the runtime (which follows) and the logs (which read). */
  OutputCapture: token<DockerOutputCapture>("dtma/OutputCapture"),
  /** How the audit file and its backend copy are doing (bound with the real adapters only). */
  AuditDelivery: token<AuditDelivery>("dtma/AuditDelivery"),
} as const

/** What is bound to `key`, typed by the token. */
export const bound = <T>(container: Container, key: Token<T>): T => container.get<T>(key)
