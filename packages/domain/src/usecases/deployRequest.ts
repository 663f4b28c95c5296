import { Effect, Redacted } from "effect"
import { InvalidInstanceSpec, PortConflict } from "../errors.ts"
import { containerNameFor, validateInstanceName } from "../instanceName.ts"
import type { EnvVar, InstanceKind, InstanceSpec, McpSettings, PortRequest, PullPolicy } from "../ManagedInstance.ts"

/** What a caller asks for when deploying; `buildInstanceSpec` checks it and derives the rest. */
export interface DeployRequest {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly image: string
  readonly env: ReadonlyArray<EnvVar>
  readonly ports: ReadonlyArray<PortRequest>
  readonly pullPolicy?: PullPolicy | undefined
  /** Present for an MCP server; it makes the instance's kind `mcp_server`. */
  readonly mcp?: McpSettings | null | undefined
  /** Replaces the image's default command. */
  readonly command?: ReadonlyArray<string> | null | undefined
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// A Docker reference: [registry[:port]/]path[:tag][@digest], lower-case path components.
const IMAGE_REF = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

const invalid = (field: string, problem: string) => Effect.fail(new InvalidInstanceSpec({ field, problem }))

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const IPV6 = /^[0-9a-fA-F:]+$/

const isIpAddress = (text: string): boolean => IPV4.test(text) || (text.includes(":") && IPV6.test(text) && text.split("::").length <= 2)

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535

export const buildInstanceSpec = (
  request: DeployRequest,
  reservedHostPorts: ReadonlyArray<number>,
): Effect.Effect<InstanceSpec, InvalidInstanceSpec | PortConflict> =>
  Effect.gen(function* () {
    const name = yield* validateInstanceName(request.name)
    if (request.image.length > 512 || !IMAGE_REF.test(request.image)) {
      return yield* invalid("dockerImageUrl", `'${request.image.slice(0, 100)}' is not a valid image reference`)
    }
    if (request.accountToolInstanceId !== null && request.accountToolInstanceId.trim() === "") {
      return yield* invalid("accountToolInstanceId", "must not be empty")
    }
    const envNames = new Set<string>()
    for (const e of request.env) {
      if (!ENV_NAME.test(e.name)) return yield* invalid("Env", `'${e.name.slice(0, 100)}' is not a valid environment variable name`)
      if (envNames.has(e.name)) return yield* invalid("Env", `'${e.name}' is given more than once`)
      // Docker refuses NUL in an environment entry and echoes the entry (the secret) in its error.
      if (Redacted.value(e.value).includes("\u0000")) return yield* invalid("Env", `the value of '${e.name}' contains a NUL character`)
      envNames.add(e.name)
    }
    const hostPorts = new Set<number>()
    for (const p of request.ports) {
      if (!isPort(p.containerPort)) return yield* invalid("PortBindings", `container port ${p.containerPort} is not between 1 and 65535`)
      // Docker publishes on every interface when it cannot parse HostIp: refuse instead.
      if (!isIpAddress(p.hostIp)) return yield* invalid("PortBindings", `HostIp '${p.hostIp.slice(0, 60)}' is not an IP address`)
      if (p.hostPort === null) continue
      if (!isPort(p.hostPort)) return yield* invalid("PortBindings", `host port ${p.hostPort} is not between 1 and 65535`)
      if (reservedHostPorts.includes(p.hostPort)) return yield* new PortConflict({ hostPort: p.hostPort, heldBy: "dtma" })
      if (hostPorts.has(p.hostPort)) return yield* invalid("PortBindings", `host port ${p.hostPort} is requested twice`)
      hostPorts.add(p.hostPort)
    }
    const mcp = request.mcp ?? null
    if (mcp?.port != null && !isPort(mcp.port)) return yield* invalid("mcpPort", `${mcp.port} is not between 1 and 65535`)
    const kind: InstanceKind = mcp === null ? "standard_tool" : "mcp_server"
    return {
      name,
      containerName: containerNameFor(name),
      accountToolInstanceId: request.accountToolInstanceId,
      image: request.image,
      kind,
      env: request.env,
      ports: request.ports,
      pullPolicy: request.pullPolicy ?? "if_not_present",
      mcp,
      command: request.command ?? null,
    }
  })
