import * as Result from "effect/Result"
import type { ContainerOverrides, DeployRequest, OAuthBinding } from "@dtma/domain"
import { firstIssue, isRecord, requestFrom } from "./deployRequestOf.ts"
import { deployMcpServerBody, REQUIRED_MCP_DEPLOY_FIELDS, type DeployMcpServerBody } from "./mcpSchemas.ts"
import { mcpSettingsFor } from "./mcpTarget.ts"
import { InvalidRequest } from "./InvalidRequest.ts"
import { MissingRequiredFields } from "./MissingRequiredFields.ts"
import { wideningKeyOf } from "./overrideKeys.ts"

const DISCOVERY = "discovery"

/** Entrypoint, WorkingDir, User, Labels and the HostConfig limits; the domain checks them against the operator's bounds. */
const overridesOf = (o: DeployMcpServerBody["baseConfigOverrideJson"] & object): Partial<ContainerOverrides> | undefined => {
  const h = o.HostConfig ?? {}
  const entrypoint = o.Entrypoint == null ? undefined : typeof o.Entrypoint === "string" ? [o.Entrypoint] : o.Entrypoint
  const overrides: Partial<ContainerOverrides> = {
    ...(entrypoint === undefined ? {} : { entrypoint }),
    ...(o.WorkingDir == null ? {} : { workingDir: o.WorkingDir }),
    ...(o.User == null ? {} : { user: o.User }),
    ...(o.Labels == null ? {} : { labels: o.Labels }),
    ...(h.Memory == null ? {} : { memoryBytes: h.Memory }),
    ...(h.NanoCpus == null ? {} : { nanoCpus: h.NanoCpus }),
    ...(h.PidsLimit == null ? {} : { pidsLimit: h.PidsLimit }),
    ...(h.Tmpfs == null ? {} : { tmpfs: h.Tmpfs }),
  }
  return Object.keys(overrides).length === 0 ? undefined : overrides
}

const NO_NETWORK = "a stdio server has no network (the DTMA talks to it on its standard input and output)"

/** A key a stdio server would not use, refused rather than dropped: it has no network, hence no port and no path. */
const stdioUnusableOf = (data: DeployMcpServerBody): InvalidRequest | null => {
  if (Object.keys(data.baseConfigOverrideJson?.HostConfig?.PortBindings ?? {}).length > 0) {
    return new InvalidRequest({ path: "baseConfigOverrideJson.HostConfig.PortBindings", problem: `cannot be published: ${NO_NETWORK}` })
  }
  if (data.mcpPort != null) return new InvalidRequest({ path: "mcpPort", problem: `is not used: ${NO_NETWORK}` })
  if (data.mcpEndpointPath != null) return new InvalidRequest({ path: "mcpEndpointPath", problem: `is not used: ${NO_NETWORK}` })
  return null
}

export type McpDeployProblem = MissingRequiredFields | InvalidRequest

/** The OAuth connections to deliver, or null for none; the domain checks the binding. */
const oauthBindingOf = (data: DeployMcpServerBody): OAuthBinding | null => {
  const connectionIds = data.oauthConnectionIds ?? []
  if (connectionIds.length === 0) return null
  return {
    agentId: data.agentId ?? "",
    connectionIds,
    requiredScopes: data.requiredScopes ?? [],
    method: data.credentialInjectionMethod ?? "mounted_secrets",
    refreshStrategy: data.refreshStrategy ?? "on_expiry",
    refreshIntervalSeconds: data.refreshIntervalSeconds ?? null,
  }
}

/**
 * The domain request a `POST /mcp-servers` body asks for. Checked in this order: required fields,
 * keys that widen privileges, the strict schema (a key it would not apply is refused), the reserved
 * name `discovery`, what a stdio server cannot use, then environment and ports; the domain checks
 * the user, tmpfs mounts, host ports and the OAuth binding. All are 400s naming the key. `Cmd` replaces the image's command; a network
 * server's port is published on loopback for the DTMA.
 */
export const mcpDeployRequestOf = (raw: unknown): Result.Result<DeployRequest, McpDeployProblem> => {
  const body = isRecord(raw) ? raw : {}
  const missing = REQUIRED_MCP_DEPLOY_FIELDS.filter((key) => body[key] === undefined || body[key] === null || body[key] === "")
  if (missing.length > 0) return Result.fail(new MissingRequiredFields({ fields: missing, required: REQUIRED_MCP_DEPLOY_FIELDS }))
  // Before the strict schema, so that a widening key gets this message rather than "not supported".
  const widening = wideningKeyOf(body["baseConfigOverrideJson"])
  if (widening !== null) {
    return Result.fail(new InvalidRequest({ path: widening, problem: "widens the container's privileges, which MCP servers are never given" }))
  }
  const parsed = deployMcpServerBody.safeParse(body)
  if (!parsed.success) return Result.fail(firstIssue(parsed.error))
  const { data } = parsed
  if (data.instanceNameOnToolbox === DISCOVERY) {
    return Result.fail(
      new InvalidRequest({ path: "instanceNameOnToolbox", problem: `'${DISCOVERY}' is reserved: GET /mcp-servers/${DISCOVERY} is the discovery document` }),
    )
  }
  if (data.mcpTransportType === "stdio") {
    const unusable = stdioUnusableOf(data)
    if (unusable !== null) return Result.fail(unusable)
  }
  if (data.refreshStrategy === "periodic" && data.refreshIntervalSeconds == null) {
    return Result.fail(new InvalidRequest({ path: "refreshIntervalSeconds", problem: "is required with refreshStrategy periodic" }))
  }
  const override = data.baseConfigOverrideJson ?? {}
  const target = mcpSettingsFor(data.mcpTransportType, data.mcpEndpointPath, data.mcpPort == null ? null : Number(data.mcpPort))
  // `shared` is stored as it always was: no isolation named.
  const mcp = data.isolation === "per_agent" ? { ...target, isolation: data.isolation } : target
  const overrides = overridesOf(override)
  return requestFrom(data, override, { mcp, command: override.Cmd ?? null, oauth: oauthBindingOf(data), ...(overrides === undefined ? {} : { overrides }) })
}
