/**
 * Container tokens for what the http package binds; the ports' own tokens (`ContainerRuntime`,
 * `ControlPlane`, `HostMetrics`) are declared beside the ports in the domain.
 */
export const Tokens = {
  Instances: Symbol.for("dtma/Instances"),
  Heartbeat: Symbol.for("dtma/Heartbeat"),
  Config: Symbol.for("dtma/Config"),
  Logger: Symbol.for("dtma/Logger"),
} as const
