import { z } from "zod"
import { mcpTransport } from "./schemas.ts"

const portText = z.union([z.number().int(), z.string().regex(/^\d{1,5}$/)], { error: "must be a port number" })

/** One server of a `POST /mcp/groups` body, as the last legacy agent took it. */
export const mcpGroupServer = z.looseObject({
  dockerImageUrl: z.string().min(1),
  instanceNameOnToolbox: z.string().min(1),
  accountToolInstanceId: z.string().min(1),
  mcpTransportType: mcpTransport,
  mcpEndpointPath: z.string().nullish(),
  mcpPort: portText.nullish().describe("Default: the first key of portBindings for a network transport, else 8080"),
  portBindings: z
    .record(z.string(), portText)
    .nullish()
    .describe('Container port to host port, e.g. {"3000":"3000"}; ignored for stdio servers, which have no network'),
  environmentVariables: z.record(z.string(), z.string()).nullish(),
  resourceLimits: z.unknown().optional().describe("Ignored: MCP servers run under the DTMA's own limits"),
})

/** The body of `POST /mcp/groups`. */
export const deployMcpGroupBody = z.looseObject({
  groupId: z.string().min(1).max(200),
  servers: z.array(mcpGroupServer).min(1).max(50),
  options: z
    .looseObject({
      sharedNetworking: z.boolean().nullish().describe("Ignored"),
      maxConcurrentDeployments: z.number().int().min(1).nullish().describe("At most 4 are deployed at once whatever this says"),
    })
    .nullish(),
})

export type McpGroupServer = z.infer<typeof mcpGroupServer>

/**
 * The `POST /mcp-servers` body one group server amounts to. A stdio server's port and path keys are
 * left out, as the last legacy agent ignored them: `POST /mcp-servers` refuses them (it has no network).
 */
export const mcpServerBodyOf = (s: McpGroupServer): Record<string, unknown> => {
  const stdio = s.mcpTransportType === "stdio"
  const bindings = stdio ? [] : Object.entries(s.portBindings ?? {})
  const firstPort = bindings[0]?.[0]
  return {
    dockerImageUrl: s.dockerImageUrl,
    instanceNameOnToolbox: s.instanceNameOnToolbox,
    accountToolInstanceId: s.accountToolInstanceId,
    mcpTransportType: s.mcpTransportType,
    mcpEndpointPath: stdio ? null : s.mcpEndpointPath,
    mcpPort: stdio ? null : (s.mcpPort ?? firstPort),
    baseConfigOverrideJson: {
      environmentVariables: s.environmentVariables,
      HostConfig: { PortBindings: Object.fromEntries(bindings.map(([container, host]) => [`${container}/tcp`, [{ HostPort: String(host) }]])) },
    },
  }
}
