/**
 * Container tokens for what the http package binds; the ports' own tokens (`ContainerRuntime`,
 * `ControlPlane`, `HostMetrics`, `McpConnector`, `ContainerLogs`, `ContainerEvents`) are declared
 * beside the ports in the domain.
 */
export const Tokens = {
  Instances: Symbol.for("dtma/Instances"),
  Heartbeat: Symbol.for("dtma/Heartbeat"),
  McpServers: Symbol.for("dtma/McpServers"),
  Config: Symbol.for("dtma/Config"),
  Logger: Symbol.for("dtma/Logger"),
  /** The scope the use cases' background work lives in; closing it stops that work. */
  Lifetime: Symbol.for("dtma/Lifetime"),
  /** The adapters' Docker output capture, shared by the runtime (which follows) and the logs (which read). */
  OutputCapture: Symbol.for("dtma/OutputCapture"),
} as const
