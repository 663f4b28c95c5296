import { isRecord } from "./deployRequestOf.ts"
import { baseConfigOverride, deployToolBody, dockerPortBinding, portMapping, toolHostConfig } from "./schemas.ts"

/** At most this many are named: a 1 MB body could hold tens of thousands. */
export const MAX_IGNORED_KEYS = 50

const keysOf = (schema: { readonly shape: object }): ReadonlySet<string> => new Set(Object.keys(schema.shape))

// `agentId` is read by the handler (tool secrets), outside the schema.
const BODY = new Set([...keysOf(deployToolBody), "agentId"])
const OVERRIDE = keysOf(baseConfigOverride)
const HOST_CONFIG = keysOf(toolHostConfig)
const BINDING = keysOf(dockerPortBinding)
const MAPPING = keysOf(portMapping)

const present = (value: unknown): boolean => value !== undefined && value !== null

const nonEmpty = (value: unknown): boolean => (Array.isArray(value) ? value.length > 0 : isRecord(value) ? Object.keys(value).length > 0 : present(value))

/** The keys of `place` outside `known`, as paths under `path`. */
const unknownIn = (place: unknown, known: ReadonlySet<string>, path: string): ReadonlyArray<string> =>
  isRecord(place)
    ? Object.keys(place)
        .filter((k) => !known.has(k))
        .map((k) => `${path}.${k}`)
    : []

/** The unknown keys of each entry of a list (or of each list of a map of lists, as Docker's port map). */
const unknownInEach = (list: unknown, known: ReadonlySet<string>, path: string): ReadonlyArray<string> =>
  Array.isArray(list) ? list.flatMap((entry, i) => unknownIn(entry, known, `${path}[${i}]`)) : []

/**
 * The keys of a `POST /tools` body the DTMA accepted but did not apply, as paths
 * (`baseConfigOverrideJson.HostConfig.Privileged`), in body order: keys no schema reads, and keys
 * read only in some cases: `mcpCapabilities` always, a `dockerImage` other than `dockerImageUrl`, MCP
 * port and path keys without `mcpTransport`, a stdio server's ports, path and port, and `agentId`
 * for an MCP server (tool secrets are for standard tools). At most `MAX_IGNORED_KEYS`.
 */
export const ignoredKeysOf = (raw: unknown): ReadonlyArray<string> => {
  if (!isRecord(raw)) return []
  const override = isRecord(raw["baseConfigOverrideJson"]) ? raw["baseConfigOverrideJson"] : {}
  const transport = override["mcpTransport"]
  const mcp = present(transport)
  const stdio = transport === "stdio"
  const o = "baseConfigOverrideJson"
  const ignored: Array<string> = []
  for (const key of Object.keys(raw)) {
    if (!BODY.has(key) || (key === "agentId" && mcp)) ignored.push(key)
  }
  for (const [key, value] of Object.entries(override)) {
    if (!OVERRIDE.has(key)) ignored.push(`${o}.${key}`)
    else if (key === "mcpCapabilities" && present(value)) ignored.push(`${o}.${key}`)
    else if (key === "dockerImage" && present(value) && value !== raw["dockerImageUrl"]) ignored.push(`${o}.${key}`)
    else if ((key === "mcpEndpoint" || key === "mcpPort") && present(value) && (!mcp || stdio)) ignored.push(`${o}.${key}`)
    else if (key === "portMappings" && stdio && nonEmpty(value)) ignored.push(`${o}.${key}`)
    else if (key === "portMappings") ignored.push(...unknownInEach(value, MAPPING, `${o}.${key}`))
    else if (key === "HostConfig" && isRecord(value)) {
      ignored.push(...unknownIn(value, HOST_CONFIG, `${o}.HostConfig`))
      const bindings = value["PortBindings"]
      if (stdio && nonEmpty(bindings)) ignored.push(`${o}.HostConfig.PortBindings`)
      else if (isRecord(bindings))
        for (const [port, list] of Object.entries(bindings)) ignored.push(...unknownInEach(list, BINDING, `${o}.HostConfig.PortBindings.${port}`))
    }
  }
  return ignored.slice(0, MAX_IGNORED_KEYS).map((path) => path.slice(0, 200))
}
