import { z } from "zod"
import { mcpTransport, pullPolicy } from "./schemas.ts"

// Strict objects: a key this DTMA would not apply is a 400 naming it (a caller must never believe it
// worked). Optional fields accept `null`, which JavaScript callers send for "not set".

/** An object that refuses keys outside `shape` and `accepted`, naming the keys of `shape` (the ones applied). */
export const strict = <S extends z.ZodRawShape, A extends z.ZodRawShape = Record<never, never>>(shape: S, accepted?: A) => {
  const takes = Object.keys(shape).join(", ")
  return z.strictObject({ ...shape, ...accepted } as S & A, {
    error: (issue) => (issue.code === "unrecognized_keys" ? `is not supported: the keys taken here are ${takes}` : undefined),
  })
}

const PORT_ERROR = { error: "must be a port number between 1 and 65535" }
const mcpPortNumber = z.union(
  [z.number(PORT_ERROR).int(PORT_ERROR).min(1, PORT_ERROR).max(65535, PORT_ERROR), z.string().regex(/^\d{1,5}$/, PORT_ERROR)],
  PORT_ERROR,
)

const HOST_PORT_ERROR = { error: 'must be a port number or ""' }
const portBinding = strict({
  HostIp: z.string().nullish().describe("Ignored: an MCP server's ports are published on 127.0.0.1"),
  HostPort: z
    .union([z.number().int(), z.string().regex(/^\d*$/, HOST_PORT_ERROR)], HOST_PORT_ERROR)
    .nullish()
    .describe('Host port; "" or absent lets Docker choose one'),
})

const NOTHING_MORE = "is not supported beyond an empty list: an MCP server gets none"
const empty = z.array(z.unknown()).max(0, { error: NOTHING_MORE }).nullish()

/**
 * Privilege keys whose value asks for nothing the container lacks (Privileged false, an empty list,
 * no-new-privileges, which it has anyway). Accepted, though not applied; anything more is refused
 * before the schema is read, with the widening message (`overrideKeys.ts`).
 */
const alreadySo = {
  Privileged: z.literal(false, { error: "is not supported beyond false: MCP servers are never privileged" }).nullish(),
  CapAdd: empty,
  Binds: empty,
  Mounts: empty,
  Devices: empty,
  DeviceRequests: empty,
  DeviceCgroupRules: empty,
  VolumesFrom: empty,
  SecurityOpt: z
    .array(z.string().regex(/^no-new-privileges(?:[:=]true)?$/, { error: "is not supported beyond no-new-privileges, which every MCP server has" }))
    .nullish(),
}

const WIDENING_NOTE =
  "Keys that widen privileges (Privileged, CapAdd, Binds, bind Mounts, Devices, host or container network/PID/IPC/UTS modes, " +
  "SecurityOpt other than no-new-privileges, VolumesFrom) are refused with 400. Entrypoint, WorkingDir, User (a uid or name with a group, " +
  "neither root nor 0), Labels (not dtma.*) and HostConfig.Memory/NanoCpus/PidsLimit/Tmpfs (known options; no exec, suid or dev) are applied within " +
  "the operator's bounds (DTMA_MAX_MEMORY_BYTES, DTMA_MAX_NANO_CPUS, DTMA_MAX_PIDS); past them the answer is 400 naming the key. " +
  "Any other key is refused with 400 naming it: nothing is accepted that would not be applied."

/** `baseConfigOverrideJson` of `POST /mcp-servers`: the part of Docker's create body a caller may set. */
export const mcpServerOverride = strict(
  {
    Env: z.array(z.string()).nullish().describe('"NAME=value" entries'),
    environmentVariables: z.record(z.string(), z.string()).nullish().describe("Merged with Env; these win on a clash"),
    Cmd: z.array(z.string()).nullish().describe("Replaces the image's default command"),
    Entrypoint: z.union([z.string(), z.array(z.string())]).nullish(),
    WorkingDir: z.string().nullish(),
    User: z.string().nullish().describe('uid:gid or user:group, e.g. "1000:1000"; never uid 0 or group 0, however spelled'),
    Labels: z.record(z.string(), z.string()).nullish(),
    HostConfig: strict(
      {
        PortBindings: z
          .record(z.string(), z.array(portBinding).nullable())
          .nullish()
          .describe("Published on 127.0.0.1 whatever HostIp says; not for stdio servers, which have no network"),
        Memory: z.number().int().nonnegative().nullish(),
        NanoCpus: z.number().int().nonnegative().nullish(),
        PidsLimit: z.number().int().nullish(),
        Tmpfs: z.record(z.string(), z.string()).nullish().describe("Path to options: rw, ro, noexec, nosuid, nodev, size=, mode=, uid=, gid=, nr_inodes=…"),
      },
      alreadySo,
    ).nullish(),
  },
  alreadySo,
).describe(WIDENING_NOTE)

export const credentialInjectionMethod = z.enum(["mounted_secrets", "runtime_api", "env_vars"])
export const refreshStrategy = z.enum(["on_expiry", "periodic", "on_demand"])

/** The body of `POST /mcp-servers`. */
export const deployMcpServerBody = strict({
  dockerImageUrl: z.string().min(1),
  instanceNameOnToolbox: z.string().min(1),
  accountToolInstanceId: z.string().min(1),
  mcpServerType: z.literal("mcp_server").nullish(),
  mcpTransportType: mcpTransport,
  mcpEndpointPath: z
    .string()
    .max(2048)
    .regex(/^\/\S*$/, { error: 'must be a path starting with "/"' })
    .nullish()
    .describe("Path of the server's endpoint inside the container; default /sse, / or /mcp by transport; refused for stdio"),
  mcpPort: mcpPortNumber.nullish().describe("The server's port inside the container, for network transports; default 8080; refused for stdio"),
  agentId: z.string().min(1).nullish(),
  oauthConnectionIds: z.array(z.string().min(1)).nullish().describe("OAuth connections whose tokens the server gets (agentId is then required)"),
  requiredScopes: z.array(z.string()).nullish(),
  credentialInjectionMethod: credentialInjectionMethod.nullish().describe("Default mounted_secrets"),
  refreshStrategy: refreshStrategy.nullish().describe("Default on_expiry"),
  refreshIntervalSeconds: z.number().int().positive().nullish().describe("With refreshStrategy periodic"),
  baseConfigOverrideJson: mcpServerOverride.nullish(),
  imagePullPolicy: pullPolicy.nullish().describe("Default if_not_present"),
  isolation: z
    .enum(["shared", "per_agent"], { error: 'must be "shared" or "per_agent"' })
    .nullish()
    .describe("shared (default): one upstream for every session; per_agent: each agent its own (a container for stdio, a connection otherwise)"),
})

export type DeployMcpServerBody = z.infer<typeof deployMcpServerBody>

export const REQUIRED_MCP_DEPLOY_FIELDS = ["dockerImageUrl", "instanceNameOnToolbox", "accountToolInstanceId", "mcpTransportType"] as const

/** `?tail=` of the logs route: how many lines, 1 to 5000, default 200. */
export const logsQuery = z.object({
  tail: z
    .string()
    .regex(/^\d+$/, { error: "must be a whole number between 1 and 5000" })
    .transform(Number)
    .pipe(z.number().min(1, { error: "must be a whole number between 1 and 5000" }).max(5000, { error: "must be a whole number between 1 and 5000" }))
    .optional(),
  agent: z.string().min(1).max(128).optional().describe("A per_agent server's instance for this agent (its token's sub)"),
})
