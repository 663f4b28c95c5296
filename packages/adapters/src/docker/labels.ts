import type {
  ContainerOverrides,
  DeployRecipe,
  InstanceKind,
  IsolatedFor,
  McpSettings,
  McpTransport,
  OAuthBinding,
  PortRequest,
  PullPolicy,
} from "@dtma/domain"

/** What a managed container carries in its labels: everything `list` rebuilds, no secret values. */
export interface InstanceLabels {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly kind: InstanceKind
  readonly image: string
  readonly mcp: McpSettings | null
  /** Names of the environment variables the container was given; never their values. */
  readonly envNames: ReadonlyArray<string>
  /** The server's OAuth connections and delivery (never a token); null for none. */
  readonly oauth: OAuthBinding | null
  /** How it was deployed (command, ports, pull policy, overrides; no environment value); null when unknown. */
  readonly recipe: DeployRecipe | null
  /** An agent's instance of a `per_agent` server: the server's name and the agent's id; null for any other. */
  readonly isolatedFor: IsolatedFor | null
}

export const LABEL = {
  managed: "dtma.managed",
  name: "dtma.name",
  /** Empty for none: the domain refuses blank ids. */
  accountToolInstanceId: "dtma.account-tool-instance-id",
  kind: "dtma.kind",
  image: "dtma.image",
  envNames: "dtma.env-names",
  /** JSON of the MCP settings, `null` for a standard tool. */
  mcp: "dtma.mcp",
  /** JSON of the OAuth binding, `null` for none; absent on containers of earlier versions. */
  oauth: "dtma.oauth",
  /** JSON of the deploy recipe; absent on containers of earlier versions. */
  recipe: "dtma.recipe",
  /** The parent server of an agent's instance of a `per_agent` server; empty for any other. */
  isolatedServer: "dtma.isolated-server",
  /** The agent (its token's `sub`) an instance of a `per_agent` server is for; empty for any other. */
  isolatedAgent: "dtma.isolated-agent",
} as const

/**
 * The value of `dtma.managed` on the containers of a DTMA. `true` is every DTMA's by default; a
 * DTMA given another scope (`DTMA_SCOPE`) sees only its own, so several can share one engine.
 */
export const DEFAULT_SCOPE = "true"

/** The `label` filter that selects a scope's managed containers in a Docker list call. */
export const managedFilter = (scope: string = DEFAULT_SCOPE): string => `${LABEL.managed}=${scope}`

const KINDS: ReadonlyArray<string> = ["standard_tool", "mcp_server"] satisfies ReadonlyArray<InstanceKind>
const TRANSPORTS: ReadonlyArray<string> = ["stdio", "sse", "websocket", "streamable_http"] satisfies ReadonlyArray<McpTransport>
const isKind = (s: string | undefined): s is InstanceKind => s !== undefined && KINDS.includes(s)
const isTransport = (s: unknown): s is McpTransport => typeof s === "string" && TRANSPORTS.includes(s)

// Docker merges the image's labels into the container's, the container's winning: every key is
// always written so that an image labelled `dtma.*` cannot add to or change what a container says.
export const encodeLabels = (labels: InstanceLabels, scope: string = DEFAULT_SCOPE): Record<string, string> => ({
  [LABEL.managed]: scope,
  [LABEL.name]: labels.name,
  [LABEL.accountToolInstanceId]: labels.accountToolInstanceId ?? "",
  [LABEL.kind]: labels.kind,
  [LABEL.image]: labels.image,
  [LABEL.envNames]: JSON.stringify(labels.envNames),
  [LABEL.mcp]: JSON.stringify(labels.mcp),
  [LABEL.oauth]: JSON.stringify(labels.oauth),
  [LABEL.recipe]: JSON.stringify(labels.recipe),
  [LABEL.isolatedServer]: labels.isolatedFor?.server ?? "",
  [LABEL.isolatedAgent]: labels.isolatedFor?.agent ?? "",
})

const parseJson = (text: string | undefined): unknown => {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const isStringArray = (value: unknown): value is ReadonlyArray<string> => Array.isArray(value) && value.every((n) => typeof n === "string")

/** The MCP settings in a label value: `null` for none, `undefined` when malformed. */
const decodeMcp = (value: unknown): McpSettings | null | undefined => {
  if (value === null) return null
  if (typeof value !== "object" || Array.isArray(value)) return undefined
  const transport: unknown = Reflect.get(value, "transport")
  const endpointPath: unknown = Reflect.get(value, "endpointPath")
  const port: unknown = Reflect.get(value, "port")
  const path = endpointPath === null ? null : typeof endpointPath === "string" ? endpointPath : undefined
  const number = port === null ? null : typeof port === "number" && Number.isInteger(port) ? port : undefined
  const isolation: unknown = Reflect.get(value, "isolation")
  if (!isTransport(transport) || path === undefined || number === undefined) return undefined
  if (isolation !== undefined && isolation !== "shared" && isolation !== "per_agent") return undefined
  return { transport, endpointPath: path, port: number, ...(isolation === undefined ? {} : { isolation }) }
}

const METHODS: ReadonlyArray<unknown> = ["mounted_secrets", "runtime_api", "env_vars"]
const STRATEGIES: ReadonlyArray<unknown> = ["on_expiry", "periodic", "on_demand"]

/** The OAuth binding in a label value: `null` for none (or an earlier version's container), `undefined` when malformed. */
const decodeOAuth = (value: unknown): OAuthBinding | null | undefined => {
  if (value === null || value === undefined) return null
  if (typeof value !== "object" || Array.isArray(value)) return undefined
  const field = (key: string): unknown => Reflect.get(value, key)
  const agentId = field("agentId")
  const connectionIds = field("connectionIds")
  const requiredScopes = field("requiredScopes")
  const method = field("method")
  const refreshStrategy = field("refreshStrategy")
  const interval = field("refreshIntervalSeconds")
  const containerUser = field("containerUser") ?? null
  if (containerUser !== null && typeof containerUser !== "string") return undefined
  if (typeof agentId !== "string" || !isStringArray(connectionIds) || !isStringArray(requiredScopes)) return undefined
  if (!METHODS.includes(method) || !STRATEGIES.includes(refreshStrategy)) return undefined
  if (interval !== null && !(typeof interval === "number" && Number.isInteger(interval) && interval > 0)) return undefined
  return {
    agentId,
    connectionIds,
    requiredScopes,
    method: method as OAuthBinding["method"],
    refreshStrategy: refreshStrategy as OAuthBinding["refreshStrategy"],
    refreshIntervalSeconds: interval,
    ...(containerUser === null ? {} : { containerUser }),
  }
}

const POLICIES: ReadonlyArray<unknown> = ["if_not_present", "always", "never"] satisfies ReadonlyArray<PullPolicy>
const isObject = (value: unknown): value is object => typeof value === "object" && value !== null && !Array.isArray(value)
const isStringRecord = (value: unknown): value is Readonly<Record<string, string>> =>
  isObject(value) && Object.values(value).every((v) => typeof v === "string")
const isCount = (value: unknown): value is number | null => value === null || (typeof value === "number" && Number.isInteger(value) && value > 0)
const isTextOrNull = (value: unknown): value is string | null => value === null || typeof value === "string"

const decodePort = (value: unknown): PortRequest | undefined => {
  if (!isObject(value)) return undefined
  const [containerPort, protocol, hostIp, hostPort]: ReadonlyArray<unknown> = ["containerPort", "protocol", "hostIp", "hostPort"].map((k) =>
    Reflect.get(value, k),
  )
  if (!(typeof containerPort === "number" && Number.isInteger(containerPort)) || (protocol !== "tcp" && protocol !== "udp") || typeof hostIp !== "string")
    return undefined
  if (!(hostPort === null || (typeof hostPort === "number" && Number.isInteger(hostPort)))) return undefined
  return { containerPort, protocol, hostIp, hostPort }
}

const decodeOverrides = (value: unknown): ContainerOverrides | null | undefined => {
  if (value === null) return null
  if (!isObject(value)) return undefined
  const field = (key: string): unknown => Reflect.get(value, key)
  const entrypoint = field("entrypoint")
  const [workingDir, user, labels, memoryBytes, nanoCpus, pidsLimit, tmpfs] = [
    "workingDir",
    "user",
    "labels",
    "memoryBytes",
    "nanoCpus",
    "pidsLimit",
    "tmpfs",
  ].map(field)
  if (!(entrypoint === null || isStringArray(entrypoint)) || !isTextOrNull(workingDir) || !isTextOrNull(user)) return undefined
  if (!isStringRecord(labels) || !isStringRecord(tmpfs) || !isCount(memoryBytes) || !isCount(nanoCpus) || !isCount(pidsLimit)) return undefined
  return { entrypoint, workingDir, user, labels, memoryBytes, nanoCpus, pidsLimit, tmpfs }
}

/** The deploy recipe in a label value: `null` for none (or an earlier version's container), `undefined` when malformed. */
const decodeRecipe = (value: unknown): DeployRecipe | null | undefined => {
  if (value === null || value === undefined) return null
  if (!isObject(value)) return undefined
  const command: unknown = Reflect.get(value, "command")
  const ports: unknown = Reflect.get(value, "ports")
  const pullPolicy: unknown = Reflect.get(value, "pullPolicy")
  const overrides = decodeOverrides(Reflect.get(value, "overrides") ?? null)
  const decodedPorts = Array.isArray(ports) ? ports.map(decodePort) : undefined
  if (!(command === null || isStringArray(command)) || !POLICIES.includes(pullPolicy) || overrides === undefined) return undefined
  if (decodedPorts === undefined || decodedPorts.some((p) => p === undefined)) return undefined
  return { command, ports: decodedPorts as ReadonlyArray<PortRequest>, pullPolicy: pullPolicy as PullPolicy, overrides }
}

/** The instance a label set describes, or `null` when the labels are not (wholly) the scope's. */
export const decodeLabels = (labels: Readonly<Record<string, string>> | null | undefined, scope: string = DEFAULT_SCOPE): InstanceLabels | null => {
  if (labels == null || labels[LABEL.managed] !== scope) return null
  const name = labels[LABEL.name]
  const accountToolInstanceId = labels[LABEL.accountToolInstanceId]
  const kind = labels[LABEL.kind]
  const image = labels[LABEL.image]
  const envNames = parseJson(labels[LABEL.envNames])
  const mcp = decodeMcp(parseJson(labels[LABEL.mcp]))
  const oauth = decodeOAuth(parseJson(labels[LABEL.oauth]))
  // A recipe that cannot be read only costs a faithful re-creation: the container stays managed.
  const recipe = decodeRecipe(parseJson(labels[LABEL.recipe])) ?? null
  if (name === undefined || accountToolInstanceId === undefined || image === undefined || !isKind(kind)) return null
  if (!isStringArray(envNames) || mcp === undefined || oauth === undefined) return null
  const isolatedServer = labels[LABEL.isolatedServer] ?? ""
  const isolatedAgent = labels[LABEL.isolatedAgent] ?? ""
  // Absent on containers of earlier versions: no agent's instance.
  const isolatedFor = isolatedServer === "" || isolatedAgent === "" ? null : { server: isolatedServer, agent: isolatedAgent }
  return { name, accountToolInstanceId: accountToolInstanceId === "" ? null : accountToolInstanceId, kind, image, mcp, envNames, oauth, recipe, isolatedFor }
}
