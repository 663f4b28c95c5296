import { z } from "zod"
import { dockerPortBinding, mcpTransport, pullPolicy } from "./schemas.ts"

// Loose objects and nullable optionals, as in `schemas.ts`: unknown keys never fail a caller.

const PORT_ERROR = { error: "must be a port number between 1 and 65535" }
const mcpPortNumber = z.union(
  [z.number(PORT_ERROR).int(PORT_ERROR).min(1, PORT_ERROR).max(65535, PORT_ERROR), z.string().regex(/^\d{1,5}$/, PORT_ERROR)],
  PORT_ERROR,
)

const WIDENING_NOTE =
  "Keys that widen privileges (Privileged, CapAdd, Binds, bind Mounts, Devices, host or container network/PID/IPC/UTS modes, " +
  "SecurityOpt other than no-new-privileges, VolumesFrom) are refused with 400. Entrypoint, WorkingDir, User (not root), Labels " +
  "(not dtma.*) and HostConfig.Memory/NanoCpus/PidsLimit/Tmpfs (no exec, no suid) are applied within the operator's bounds " +
  "(DTMA_MAX_MEMORY_BYTES, DTMA_MAX_NANO_CPUS, DTMA_MAX_PIDS); past them the answer is 400 naming the key."

/** `baseConfigOverrideJson` of `POST /mcp-servers`: the part of Docker's create body a caller may set. */
export const mcpServerOverride = z
  .looseObject({
    Env: z.array(z.string()).nullish().describe('"NAME=value" entries'),
    environmentVariables: z.record(z.string(), z.string()).nullish().describe("Merged with Env; these win on a clash"),
    Cmd: z.array(z.string()).nullish().describe("Replaces the image's default command"),
    Entrypoint: z.union([z.string(), z.array(z.string())]).nullish(),
    WorkingDir: z.string().nullish(),
    User: z.string().nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    HostConfig: z
      .looseObject({
        PortBindings: z.record(z.string(), z.array(dockerPortBinding).nullable()).nullish().describe("Published on 127.0.0.1 whatever HostIp says"),
        Memory: z.number().int().nonnegative().nullish(),
        NanoCpus: z.number().int().nonnegative().nullish(),
        PidsLimit: z.number().int().nullish(),
        Tmpfs: z.record(z.string(), z.string()).nullish(),
      })
      .nullish(),
  })
  .describe(WIDENING_NOTE)

export const credentialInjectionMethod = z.enum(["mounted_secrets", "runtime_api", "env_vars"])
export const refreshStrategy = z.enum(["on_expiry", "periodic", "on_demand"])

/** The body of `POST /mcp-servers`. */
export const deployMcpServerBody = z.looseObject({
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
    .describe("Path of the server's endpoint inside the container; default /sse, / or /mcp by transport; not used for stdio"),
  mcpPort: mcpPortNumber.nullish().describe("The server's port inside the container, for network transports; default 8080"),
  agentId: z.string().min(1).nullish(),
  oauthConnectionIds: z.array(z.string().min(1)).nullish().describe("OAuth connections whose tokens the server gets (agentId is then required)"),
  requiredScopes: z.array(z.string()).nullish(),
  credentialInjectionMethod: credentialInjectionMethod.nullish().describe("Default mounted_secrets"),
  refreshStrategy: refreshStrategy.nullish().describe("Default on_expiry"),
  refreshIntervalSeconds: z.number().int().positive().nullish().describe("With refreshStrategy periodic"),
  baseConfigOverrideJson: mcpServerOverride.nullish(),
  imagePullPolicy: pullPolicy.nullish().describe("Default if_not_present"),
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
})
