import * as Data from "effect/Data"
/** The part of a deploy a refusal is about, in the domain's words (an edge names it as its callers do). */
export type SpecField =
  | "name"
  | "accountToolInstanceId"
  | "image"
  | "env"
  | "ports"
  | "transport"
  | "mcpPort"
  | "user"
  | "labels"
  | "tmpfs"
  | "memoryBytes"
  | "nanoCpus"
  | "pidsLimit"
  | "agentId"
  | "connectionIds"
  | "refreshInterval"

/** A request names an instance or asks for a spec the domain refuses. */
export class InvalidInstanceSpec extends Data.TaggedError("InvalidInstanceSpec")<{
  readonly field: SpecField
  readonly problem: string
}> {
  override get message(): string {
    return `Invalid ${this.field}: ${this.problem}`
  }
}

export class InstanceAlreadyExists extends Data.TaggedError("InstanceAlreadyExists")<{
  readonly name: string
}> {
  override get message(): string {
    return `Instance with name '${this.name}' already exists.`
  }
}

export class InstanceNotFound extends Data.TaggedError("InstanceNotFound")<{
  readonly name: string
}> {
  override get message(): string {
    return `Tool instance '${this.name}' not found or not managed by this DTMA.`
  }
}

/** Who holds a host port that a deploy asked for. */
/** `replaced_instance`: the very instance a zero-downtime replacement would run beside. */
export type PortHolder = "managed_instance" | "replaced_instance" | "dtma" | "host"

export class PortConflict extends Data.TaggedError("PortConflict")<{
  readonly hostPort: number
  readonly heldBy: PortHolder
}> {
  override get message(): string {
    switch (this.heldBy) {
      case "managed_instance":
        return `Port conflict: Requested HostPort ${this.hostPort} is already in use by a managed instance.`
      case "replaced_instance":
        return (
          `Port conflict: Requested HostPort ${this.hostPort} is held by the container being replaced, and a redeploy starts the new one beside it. ` +
          "Leave the host port unset to let the runtime choose one, or remove the instance and deploy it again."
        )
      case "dtma":
        return `Port conflict: Requested HostPort ${this.hostPort} is the DTMA's own port.`
      case "host":
        return `Port conflict: Requested HostPort ${this.hostPort} is already in use on the host.`
    }
  }
}

export class NameTakenByUnmanagedContainer extends Data.TaggedError("NameTakenByUnmanagedContainer")<{
  readonly name: string
  readonly containerName: string
}> {
  override get message(): string {
    return `Instance name '${this.name}' maps to container name '${this.containerName}', which a container not managed by this DTMA already uses.`
  }
}

// ---- errors a container runtime reports (closed union, see ContainerRuntime) ----

export class ContainerNameConflict extends Data.TaggedError("ContainerNameConflict")<{
  readonly containerName: string
}> {
  override get message(): string {
    return `A container named '${this.containerName}' already exists.`
  }
}

export class HostPortUnavailable extends Data.TaggedError("HostPortUnavailable")<{
  readonly hostPort: number
}> {
  override get message(): string {
    return `Host port ${this.hostPort} is already allocated.`
  }
}

export class ContainerNotFound extends Data.TaggedError("ContainerNotFound")<{
  readonly containerId: string
}> {
  override get message(): string {
    return `Container '${this.containerId}' does not exist.`
  }
}

export type ImageProblem = "not_found" | "pull_failed" | "pull_timeout"

export class ImageUnavailable extends Data.TaggedError("ImageUnavailable")<{
  readonly image: string
  readonly reason: ImageProblem
  readonly detail: string
}> {
  override get message(): string {
    const why = { not_found: "it is not present locally and pulling is disabled", pull_failed: "pulling it failed", pull_timeout: "pulling it timed out" }[
      this.reason
    ]
    return `Image '${this.image}' is not available: ${why}${this.detail ? ` (${this.detail})` : ""}.`
  }
}

export class RuntimeUnavailable extends Data.TaggedError("RuntimeUnavailable")<{
  readonly detail: string
}> {
  override get message(): string {
    return `The container runtime is unreachable: ${this.detail}`
  }
}

export type RuntimeOperation = "create" | "start" | "stop" | "remove" | "list" | "inspect" | "pull"

export class RuntimeOperationFailed extends Data.TaggedError("RuntimeOperationFailed")<{
  readonly operation: RuntimeOperation
  readonly detail: string
}> {
  override get message(): string {
    return `The container runtime could not ${this.operation}: ${this.detail}`
  }
}

export class ControlPlaneUnavailable extends Data.TaggedError("ControlPlaneUnavailable")<{
  readonly detail: string
}> {
  override get message(): string {
    return `The Agentopia backend is unreachable: ${this.detail}`
  }
}

export class ControlPlaneRejected extends Data.TaggedError("ControlPlaneRejected")<{
  readonly status: number
  readonly detail: string
}> {
  override get message(): string {
    return `The Agentopia backend answered ${this.status}: ${this.detail}`
  }
}

/** An OAuth operation on a server that has no OAuth connections. */
export class NoOAuthConnections extends Data.TaggedError("NoOAuthConnections")<{
  readonly name: string
}> {
  override get message(): string {
    return `MCP server '${this.name}' has no OAuth connections.`
  }
}

/** A group id this DTMA already deployed. */
export class McpGroupExists extends Data.TaggedError("McpGroupExists")<{ readonly groupId: string }> {
  override get message(): string {
    return `MCP server group '${this.groupId}' already exists.`
  }
}

/** A group id this DTMA does not know (groups are kept in memory: a restart forgets them, not their servers). */
export class McpGroupNotFound extends Data.TaggedError("McpGroupNotFound")<{ readonly groupId: string }> {
  override get message(): string {
    return `MCP server group '${this.groupId}' not found; groups deployed before the DTMA last started are not kept, remove their servers one by one.`
  }
}
