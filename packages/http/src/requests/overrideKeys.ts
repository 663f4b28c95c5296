const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const nonEmpty = (value: unknown): boolean =>
  Array.isArray(value) ? value.length > 0 : isRecord(value) ? Object.keys(value).length > 0 : value != null && value !== ""

// Sharing a namespace with the host or another container is never granted to an MCP server.
const sharesNamespace = (value: unknown): boolean => typeof value === "string" && (value === "host" || value.startsWith("container:"))

const NO_NEW_PRIVILEGES = /^no-new-privileges(?:[:=]true)?$/

/** Whether a key's value asks for more than a container gets by default. */
const WIDENING: Readonly<Record<string, (value: unknown) => boolean>> = {
  Privileged: (v) => v === true,
  CapAdd: nonEmpty,
  Binds: nonEmpty,
  Mounts: (v) => Array.isArray(v) && v.some((m) => isRecord(m) && String(m["Type"]).toLowerCase() === "bind"),
  Devices: nonEmpty,
  DeviceRequests: nonEmpty,
  DeviceCgroupRules: nonEmpty,
  VolumesFrom: nonEmpty,
  NetworkMode: sharesNamespace,
  PidMode: sharesNamespace,
  IpcMode: sharesNamespace,
  UTSMode: sharesNamespace,
  UsernsMode: sharesNamespace,
  CgroupnsMode: sharesNamespace,
  SecurityOpt: (v) => Array.isArray(v) && v.some((o) => typeof o !== "string" || !NO_NEW_PRIVILEGES.test(o)),
}

const PREFIX = "baseConfigOverrideJson"

/**
 * The first key of an override that widens the container's privileges, as a path
 * (`baseConfigOverrideJson.HostConfig.Privileged`), or null. Docker reads these under `HostConfig`;
 * old callers also put them at the top level, so both places count.
 */
export const wideningKeyOf = (override: unknown): string | null => {
  if (!isRecord(override)) return null
  const places: ReadonlyArray<readonly [string, unknown]> = [
    [PREFIX, override],
    [`${PREFIX}.HostConfig`, override["HostConfig"]],
  ]
  for (const [path, place] of places) {
    if (!isRecord(place)) continue
    for (const [key, widens] of Object.entries(WIDENING)) if (widens(place[key])) return `${path}.${key}`
  }
  return null
}
