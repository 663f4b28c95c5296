import { z } from "zod"

// Every object is loose: old callers send keys this DTMA does not read, and that must not fail them
// (the 201 names them in `data.ignoredKeys`, see `ignoredKeys.ts`).
// Optional fields also accept `null`, which JavaScript callers send for "not set".

const PORT_ERROR = { error: "must be a port number" }
const HOST_PORT_ERROR = { error: 'must be a port number or ""' }

const portNumber = z.union([z.number().int(), z.string().regex(/^\d+$/, PORT_ERROR)], PORT_ERROR).describe("A port, as a number or a decimal string")

/** One entry of a Docker port binding list. */
export const dockerPortBinding = z.looseObject({
  HostIp: z.string().nullish().describe('Host address; "" or absent means 0.0.0.0'),
  HostPort: z
    .union([z.number().int(), z.string().regex(/^\d*$/, HOST_PORT_ERROR)], HOST_PORT_ERROR)
    .nullish()
    .describe('Host port; "" or absent lets Docker choose one'),
})

export const mcpTransport = z.enum(["stdio", "sse", "websocket", "streamable_http"])

export const pullPolicy = z.enum(["if_not_present", "always", "never"])

/** `baseConfigOverrideJson.HostConfig` of `POST /tools`: only the port map is read. */
export const toolHostConfig = z.looseObject({
  PortBindings: z
    .record(z.string(), z.array(dockerPortBinding).nullable())
    .nullish()
    .describe('Docker port map, e.g. {"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"30001"}]}'),
})

/** One entry of `portMappings`. */
export const portMapping = z.looseObject({ containerPort: portNumber, hostPort: portNumber.nullish() })

/** `baseConfigOverrideJson`: a slice of Docker's create body plus keys the backend added later. */
export const baseConfigOverride = z.looseObject({
  Env: z.array(z.string()).nullish().describe('Environment as Docker takes it: "NAME=value" entries'),
  HostConfig: toolHostConfig.nullish(),
  dockerImage: z.string().nullish().describe("Ignored when it differs: dockerImageUrl is the image"),
  environmentVariables: z.record(z.string(), z.string()).nullish().describe("Merged with Env; these win on a clash"),
  portMappings: z.array(portMapping).nullish(),
  mcpTransport: mcpTransport.nullish().describe("Marks the instance as an MCP server"),
  mcpEndpoint: z.string().nullish(),
  mcpPort: portNumber.nullish(),
  mcpCapabilities: z.unknown().optional().describe("Accepted and ignored"),
})

/** The body of `POST /tools`. */
export const deployToolBody = z.looseObject({
  dockerImageUrl: z.string().min(1),
  instanceNameOnToolbox: z.string().min(1),
  accountToolInstanceId: z.string().min(1),
  baseConfigOverrideJson: baseConfigOverride.nullish(),
  imagePullPolicy: pullPolicy.nullish().describe("Default if_not_present"),
})

export type DeployToolBody = z.infer<typeof deployToolBody>

export const REQUIRED_DEPLOY_FIELDS = ["dockerImageUrl", "instanceNameOnToolbox", "accountToolInstanceId"] as const

/** The envelope of every failure this API answers (some legacy bodies carry only `error`). */
export const errorBody = z.looseObject({
  success: z.literal(false).optional(),
  error: z.string(),
  message: z.string().optional(),
  code: z.string().optional(),
})
