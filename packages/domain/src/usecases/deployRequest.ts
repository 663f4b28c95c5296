import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { formatContainerUser, mcpServerUser, parseContainerUser, rootProblemOf } from "../containerUser.ts"
import { InvalidInstanceSpec, PortConflict, type SpecField } from "../errors.ts"
import { agentIdProblem } from "../access/AgentIdentity.ts"
import { isolatedInstanceName, validateInstanceName } from "../instanceName.ts"
import { isSafeSegment } from "../credentials/layout.ts"
import type {
  ContainerOverrides,
  DeployRecipe,
  IsolatedFor,
  EnvVar,
  InstanceKind,
  InstanceSpec,
  McpSettings,
  OAuthBinding,
  PortRequest,
  PullPolicy,
} from "../ManagedInstance.ts"
import type { DeliveryMount } from "../ports/CredentialDelivery.ts"
import { tmpfsProblemOf } from "../tmpfsMount.ts"
import { DEFAULT_MCP_PORT } from "./serverConnection.ts"

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
  readonly overrides?: Partial<ContainerOverrides> | undefined
  /** OAuth connections to deliver to an MCP server. */
  readonly oauth?: OAuthBinding | null | undefined
  /** The DTMA's own credential directories (never a caller's). */
  readonly mounts?: ReadonlyArray<DeliveryMount> | undefined
  /** The DTMA's own: an agent's instance of a `per_agent` server (never a caller's); `name` is then `isolatedInstanceName`. */
  readonly isolatedFor?: IsolatedFor | null | undefined
}

/** The fewest seconds between `periodic` refreshes: more often would only load the backend. */
export const MIN_REFRESH_INTERVAL_SECONDS = 10
const MAX_CONNECTIONS = 20

/**
 * Checks an OAuth binding: a named agent, distinct connection ids usable as directory names, a sane
 * schedule, and for `env_vars` no fixed host port (each renewal starts a replacement container
 * beside the running one, and two containers cannot hold one host port).
 */
export const checkOAuthBinding = (binding: OAuthBinding, ports: ReadonlyArray<PortRequest>): Effect.Effect<OAuthBinding, InvalidInstanceSpec> =>
  Effect.gen(function* () {
    const fixed = ports.find((p) => p.hostPort !== null)
    if (binding.method === "env_vars" && fixed !== undefined) {
      return yield* invalid(
        "ports",
        `host port ${fixed.hostPort} cannot be fixed with env_vars delivery: each token renewal starts a replacement container beside the running one, ` +
          "and both cannot hold one host port. Leave the host port unset (clients reach the server through the DTMA's endpoint), " +
          "or deliver by mounted_secrets or runtime_api",
      )
    }
    if (binding.agentId.trim() === "") return yield* invalid("agentId", "is required when OAuth connections are given")
    const ids = binding.connectionIds
    if (ids.length === 0 || ids.length > MAX_CONNECTIONS) return yield* invalid("connectionIds", `must name 1 to ${MAX_CONNECTIONS} connections`)
    const bad = ids.find((id) => !isSafeSegment(id))
    if (bad !== undefined) return yield* invalid("connectionIds", `'${bad.slice(0, 60)}' is not a connection id (letters, digits, '.', '_', '-'; at most 128)`)
    if (new Set(ids).size !== ids.length) return yield* invalid("connectionIds", "names a connection more than once")
    const interval = binding.refreshIntervalSeconds
    if (binding.refreshStrategy === "periodic" && interval === null) return yield* invalid("refreshInterval", "is required with periodic refreshes")
    if (binding.refreshStrategy !== "periodic" && interval !== null) return yield* invalid("refreshInterval", "is only used with periodic refreshes")
    if (interval !== null && (!Number.isInteger(interval) || interval < MIN_REFRESH_INTERVAL_SECONDS || interval > 86_400)) {
      return yield* invalid("refreshInterval", `${interval} is outside ${MIN_REFRESH_INTERVAL_SECONDS}..86400 seconds`)
    }
    return binding
  })

/** The most an operator lets one instance ask for. */
export interface ResourceBounds {
  readonly maxMemoryBytes: number
  readonly maxNanoCpus: number
  readonly maxPidsLimit: number
}

export const DEFAULT_RESOURCE_BOUNDS: ResourceBounds = { maxMemoryBytes: 4 * 1024 ** 3, maxNanoCpus: 2_000_000_000, maxPidsLimit: 4096 }

const MIN_MEMORY = 6 * 1024 * 1024

const boundedNumber = (field: SpecField, value: number | null | undefined, min: number, max: number, unit: string) => {
  if (value == null) return Effect.succeed(null)
  if (!Number.isInteger(value) || value < min || value > max) return invalid(field, `${value} is outside ${min}..${max} ${unit} (the operator's bounds)`)
  return Effect.succeed(value)
}

/**
 * `User` read as the runtime reads it, in its canonical spelling. A malformed value is refused for any
 * kind (the runtime would fail on it); an MCP server is never root, by uid or by group, and a uid
 * given without a group gets the group of the same number.
 */
export const checkUser = (text: string, kind: InstanceKind): Effect.Effect<string, InvalidInstanceSpec> => {
  const shown = JSON.stringify(text.slice(0, 60))
  const parsed = parseContainerUser(text)
  if (Result.isFailure(parsed)) return invalid("user", `${shown} ${parsed.failure}`)
  if (kind !== "mcp_server") return Effect.succeed(formatContainerUser(parsed.success))
  const rootProblem = rootProblemOf(parsed.success)
  if (rootProblem !== null) return invalid("user", `${shown} ${rootProblem}`)
  return Effect.succeed(formatContainerUser(mcpServerUser(parsed.success)))
}

/** Checks the overrides against the kind and the operator's bounds. */
export const checkOverrides = (
  requested: Partial<ContainerOverrides> | undefined,
  kind: InstanceKind,
  bounds: ResourceBounds,
): Effect.Effect<ContainerOverrides | undefined, InvalidInstanceSpec> =>
  Effect.gen(function* () {
    if (requested === undefined) return undefined
    const labels = requested.labels ?? {}
    const reserved = Object.keys(labels).find((k) => k.startsWith("dtma."))
    if (reserved !== undefined) return yield* invalid("labels", `'${reserved}' is reserved: labels starting with 'dtma.' are the DTMA's own`)
    const user = requested.user == null ? null : yield* checkUser(requested.user, kind)
    const tmpfs = requested.tmpfs ?? {}
    for (const [path, options] of Object.entries(tmpfs)) {
      const problem = tmpfsProblemOf(path, options)
      if (problem !== null) return yield* invalid("tmpfs", problem)
    }
    return {
      entrypoint: requested.entrypoint ?? null,
      workingDir: requested.workingDir ?? null,
      user,
      labels,
      memoryBytes: yield* boundedNumber("memoryBytes", requested.memoryBytes, MIN_MEMORY, bounds.maxMemoryBytes, "bytes"),
      nanoCpus: yield* boundedNumber("nanoCpus", requested.nanoCpus, 10_000_000, bounds.maxNanoCpus, "nano-CPUs"),
      pidsLimit: yield* boundedNumber("pidsLimit", requested.pidsLimit, 1, bounds.maxPidsLimit, "processes"),
      tmpfs,
    }
  })

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// An image reference: [registry[:port]/]path[:tag][@digest], lower-case path components
// (alphanumerics joined by `.`, `_`, `__` or dashes).
const PATH_COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
const IMAGE_REF = new RegExp(
  String.raw`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?${PATH_COMPONENT}(?:\/${PATH_COMPONENT})*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
)

const invalid = (field: SpecField, problem: string) => Effect.fail(new InvalidInstanceSpec({ field, problem }))

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const IPV6 = /^[0-9a-fA-F:]+$/

const isIpAddress = (text: string): boolean => IPV4.test(text) || (text.includes(":") && IPV6.test(text) && text.split("::").length <= 2)

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535

/** What a deploy may ask for on this host. */
export interface DeployRules {
  /** Host ports no instance may take (the DTMA's own port). */
  readonly reservedHostPorts: ReadonlyArray<number>
  /** The most one instance may ask for; the domain's defaults when absent. */
  readonly bounds?: ResourceBounds | undefined
  /**
   * Host ports the DTMA's own MCP client refuses to call (it is the adapter's restriction, so the
   * composition root supplies it): a network MCP server's port may not be published on one.
   */
  readonly uncallableHostPorts?: ReadonlyArray<number> | undefined
}

export const buildInstanceSpec = (request: DeployRequest, rules: DeployRules): Effect.Effect<InstanceSpec, InvalidInstanceSpec | PortConflict> =>
  Effect.gen(function* () {
    const { reservedHostPorts, bounds = DEFAULT_RESOURCE_BOUNDS, uncallableHostPorts = [] } = rules
    const name = request.isolatedFor == null ? yield* validateInstanceName(request.name) : yield* isolatedNameOf(request.name, request.isolatedFor)
    if (request.image.length > 512 || !IMAGE_REF.test(request.image)) {
      return yield* invalid("image", `'${request.image.slice(0, 100)}' is not a valid image reference`)
    }
    if (request.accountToolInstanceId !== null && request.accountToolInstanceId.trim() === "") {
      return yield* invalid("accountToolInstanceId", "must not be empty")
    }
    const envNames = new Set<string>()
    for (const e of request.env) {
      if (!ENV_NAME.test(e.name)) return yield* invalid("env", `'${e.name.slice(0, 100)}' is not a valid environment variable name`)
      if (envNames.has(e.name)) return yield* invalid("env", `'${e.name}' is given more than once`)
      // A runtime refuses NUL in an environment entry, and may echo the entry (the secret) in its error.
      if (Redacted.value(e.value).includes("\u0000")) return yield* invalid("env", `the value of '${e.name}' contains a NUL character`)
      envNames.add(e.name)
    }
    const hostPorts = new Set<number>()
    for (const p of request.ports) {
      if (!isPort(p.containerPort)) return yield* invalid("ports", `container port ${p.containerPort} is not between 1 and 65535`)
      // A runtime may publish on every interface when it cannot parse the address: refuse instead.
      if (!isIpAddress(p.hostIp)) return yield* invalid("ports", `HostIp '${p.hostIp.slice(0, 60)}' is not an IP address`)
      if (p.hostPort === null) continue
      if (!isPort(p.hostPort)) return yield* invalid("ports", `host port ${p.hostPort} is not between 1 and 65535`)
      if (reservedHostPorts.includes(p.hostPort)) return yield* new PortConflict({ hostPort: p.hostPort, heldBy: "dtma" })
      if (hostPorts.has(p.hostPort)) return yield* invalid("ports", `host port ${p.hostPort} is requested twice`)
      hostPorts.add(p.hostPort)
    }
    const mcp = request.mcp ?? null
    if (mcp?.port != null && !isPort(mcp.port)) return yield* invalid("mcpPort", `${mcp.port} is not between 1 and 65535`)
    const kind: InstanceKind = mcp === null ? "standard_tool" : "mcp_server"
    if (mcp !== null && mcp.transport !== "stdio") {
      const mcpPort = mcp.port ?? DEFAULT_MCP_PORT
      const uncallable = request.ports.find(
        (p) => p.containerPort === mcpPort && p.protocol === "tcp" && p.hostPort !== null && uncallableHostPorts.includes(p.hostPort),
      )
      if (uncallable?.hostPort != null) {
        return yield* invalid(
          "ports",
          `host port ${uncallable.hostPort} cannot carry the server's MCP port ${mcpPort}: ` +
            `the DTMA calls the server through it with fetch, which refuses port ${uncallable.hostPort} ` +
            '(a "bad port" of the Fetch standard). Choose another host port, or leave the host port unset',
        )
      }
    }
    const overrides = yield* checkOverrides(request.overrides, kind, bounds)
    const oauth = request.oauth == null ? null : yield* checkOAuthBinding(request.oauth, request.ports)
    if (oauth !== null && kind !== "mcp_server") return yield* invalid("connectionIds", "are delivered to MCP servers only")
    return {
      name,
      accountToolInstanceId: request.accountToolInstanceId,
      image: request.image,
      kind,
      env: request.env,
      ports: request.ports,
      pullPolicy: request.pullPolicy ?? "if_not_present",
      mcp,
      command: request.command ?? null,
      ...(overrides === undefined ? {} : { overrides }),
      oauth,
      ...(request.mounts === undefined ? {} : { mounts: request.mounts }),
      ...(request.isolatedFor == null ? {} : { isolatedFor: request.isolatedFor }),
    }
  })

/** The name of an agent's instance, checked: its server's name is a caller's, its agent id a token's, and the name is made of both. */
const isolatedNameOf = (name: string, isolated: IsolatedFor): Effect.Effect<string, InvalidInstanceSpec> =>
  Effect.gen(function* () {
    yield* validateInstanceName(isolated.server)
    const problem = agentIdProblem(isolated.agent)
    if (problem !== null) return yield* invalid("name", `the agent id ${problem}`)
    if (name !== isolatedInstanceName(isolated)) return yield* invalid("name", "is not the name of the agent's instance of its server")
    return name
  })

/** Overrides that set nothing are no overrides. */
const setsSomething = (o: ContainerOverrides): boolean =>
  o.entrypoint !== null ||
  o.workingDir !== null ||
  o.user !== null ||
  o.memoryBytes !== null ||
  o.nanoCpus !== null ||
  o.pidsLimit !== null ||
  Object.keys(o.labels).length > 0 ||
  Object.keys(o.tmpfs).length > 0

/** What a runtime keeps with an instance's container to create it again the same way. */
export const recipeOf = (spec: InstanceSpec): DeployRecipe => ({
  command: spec.command,
  ports: spec.ports,
  pullPolicy: spec.pullPolicy,
  overrides: spec.overrides !== undefined && setsSomething(spec.overrides) ? spec.overrides : null,
})
