import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type { DeployRequest, McpSettings, PortRequest, PullPolicy } from "@dtma/domain"
import type { z } from "zod"
import { mcpSettingsFor, withMcpPort } from "./mcpTarget.ts"
import { InvalidRequest } from "./InvalidRequest.ts"
import { MissingRequiredFields } from "./MissingRequiredFields.ts"
import { deployToolBody, REQUIRED_DEPLOY_FIELDS, type DeployToolBody } from "./schemas.ts"

type Override = NonNullable<DeployToolBody["baseConfigOverrideJson"]>

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** `["a", "Env", 0]` → `a.Env[0]` */
export const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`), "") || "body"

const invalid = (path: string, problem: string) => Result.fail(new InvalidRequest({ path, problem }))

// Messages name the entry, never its value: environment values are secrets.
export const envOf = (override: Pick<Override, "Env" | "environmentVariables">): Result.Result<Map<string, string>, InvalidRequest> => {
  const env = new Map<string, string>()
  for (const [index, entry] of (override.Env ?? []).entries()) {
    const eq = entry.indexOf("=")
    if (eq <= 0) return invalid(`baseConfigOverrideJson.Env[${index}]`, 'must be "NAME=value"')
    env.set(entry.slice(0, eq), entry.slice(eq + 1))
  }
  for (const [name, value] of Object.entries(override.environmentVariables ?? {})) env.set(name, value)
  return Result.succeed(env)
}

export const envVarsOf = (env: ReadonlyMap<string, string>) => [...env].map(([name, value]) => ({ name, value: Redacted.make(value) }))

const PORT_KEY = /^(\d+)(?:\/(tcp|udp))?$/i

const hostPortOf = (value: string | number | null | undefined): number | null => (value === undefined || value === null || value === "" ? null : Number(value))

export const portsOf = (override: Pick<Override, "HostConfig" | "portMappings">): Result.Result<ReadonlyArray<PortRequest>, InvalidRequest> => {
  const ports = new Map<string, PortRequest>()
  const add = (p: PortRequest) => ports.set(`${p.containerPort}/${p.protocol}/${p.hostIp}/${p.hostPort}`, p)
  for (const [key, bindings] of Object.entries(override.HostConfig?.PortBindings ?? {})) {
    const match = PORT_KEY.exec(key)
    if (match === null) return invalid("baseConfigOverrideJson.HostConfig.PortBindings", `'${key.slice(0, 50)}' is not "<port>/tcp" or "<port>/udp"`)
    const protocol = (match[2] ?? "tcp").toLowerCase() === "udp" ? "udp" : "tcp"
    for (const b of bindings ?? []) {
      // Legacy tools send "" for "all interfaces".
      add({ containerPort: Number(match[1]), protocol, hostIp: b.HostIp || "0.0.0.0", hostPort: hostPortOf(b.HostPort) })
    }
  }
  for (const m of override.portMappings ?? []) {
    add({ containerPort: Number(m.containerPort), protocol: "tcp", hostIp: "0.0.0.0", hostPort: hostPortOf(m.hostPort) })
  }
  return Result.succeed([...ports.values()])
}

const mcpOf = (override: Override): McpSettings | null =>
  override.mcpTransport == null ? null : mcpSettingsFor(override.mcpTransport, override.mcpEndpoint, hostPortOf(override.mcpPort))

export const firstIssue = (error: z.ZodError) => {
  const issue = error.issues[0]
  if (issue?.code === "unrecognized_keys") {
    // A key a strict object does not take is named by its own path; the others of the object follow.
    const [key = "", ...more] = issue.keys
    const also =
      more.length === 0
        ? ""
        : ` (nor ${more
            .slice(0, 5)
            .map((k) => `'${k.slice(0, 40)}'`)
            .join(", ")})`
    return new InvalidRequest({ path: fieldOf([...issue.path, key]), problem: `${issue.message}${also}` })
  }
  return new InvalidRequest({ path: fieldOf(issue?.path ?? []), problem: issue?.message ?? "is invalid" })
}

/**
 * The domain request a `POST /tools` body asks for. `dockerImageUrl` is the image (an override's
 * `dockerImage` never replaces it); `Env` and `environmentVariables` are merged, the latter winning;
 * `HostConfig.PortBindings` and `portMappings` both become port requests; an `mcpTransport` makes
 * the instance an MCP server (port 8080 and the transport's path by default, its port published on
 * loopback for the DTMA).
 */
export const deployRequestOf = (raw: unknown): Result.Result<DeployRequest, MissingRequiredFields | InvalidRequest> => {
  const body = isRecord(raw) ? raw : {}
  const missing = REQUIRED_DEPLOY_FIELDS.filter((key) => body[key] === undefined || body[key] === null || body[key] === "")
  if (missing.length > 0) return Result.fail(new MissingRequiredFields({ fields: missing }))
  const parsed = deployToolBody.safeParse(body)
  if (!parsed.success) return Result.fail(firstIssue(parsed.error))
  const { data } = parsed
  const override: Override = data.baseConfigOverrideJson ?? {}
  const mcp = mcpOf(override)
  return requestFrom(data, override, { mcp })
}

/**
 * The domain request from a parsed deploy body: the fields both deploy APIs share, its override's
 * environment and ports (a network MCP server's port published for the DTMA), and `extra`.
 */
export const requestFrom = (
  data: {
    readonly instanceNameOnToolbox: string
    readonly accountToolInstanceId: string
    readonly dockerImageUrl: string
    readonly imagePullPolicy?: PullPolicy | null | undefined
  },
  override: Override,
  extra: Partial<DeployRequest> & { readonly mcp: McpSettings | null },
): Result.Result<DeployRequest, InvalidRequest> =>
  Result.all({ env: envOf(override), ports: portsOf(override) }).pipe(
    Result.map(({ env, ports }) => ({
      name: data.instanceNameOnToolbox,
      accountToolInstanceId: data.accountToolInstanceId,
      image: data.dockerImageUrl,
      env: envVarsOf(env),
      ports: withMcpPort(ports, extra.mcp),
      pullPolicy: data.imagePullPolicy ?? undefined,
      ...extra,
    })),
  )
