import type { ContainerState, ManagedContainer, PublishedPort } from "@dtma/domain"
import type { ContainerJson, CreateContainerBody, PortBindingJson, PortMapJson } from "./DockerApi.ts"
import { decodeLabels, DEFAULT_SCOPE } from "./labels.ts"

const STATES: ReadonlyArray<string> = ["created", "running", "paused", "restarting", "removing", "exited", "dead"] satisfies ReadonlyArray<ContainerState>
const isState = (s: string): s is ContainerState => STATES.includes(s)

const ZERO_TIME = "0001-01-01T00:00:00Z"

/** Docker's zero time (`0001-01-01T00:00:00Z`) means "never". */
export const startedAtOf = (startedAt: string): string | null => (startedAt === "" || startedAt.startsWith("0001-01-01") ? null : startedAt)

/** Unix seconds of an RFC 3339 time with up to nanosecond precision. */
export const unixSecondsOf = (rfc3339: string): number => {
  const millis = Date.parse(rfc3339)
  return Number.isNaN(millis) ? 0 : Math.floor(millis / 1000)
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const hostPortOf = (text: string | undefined): number | null => (text === undefined || text === "" ? null : Number(text))

const toPublished = (key: string, bindings: ReadonlyArray<PortBindingJson>): Array<PublishedPort> => {
  const match = /^(\d+)\/(tcp|udp)$/.exec(key)
  if (match === null) return []
  const containerPort = Number(match[1])
  const protocol = match[2] === "udp" ? "udp" : "tcp"
  return bindings.map((b) => ({ containerPort, protocol, hostIp: b.HostIp ?? "", hostPort: hostPortOf(b.HostPort) }))
}

/**
 * Ports as Docker reports them: the bound ones while the container runs, the requested ones
 * otherwise (a random port is then `null`).
 */
export const publishedPortsOf = (actual: PortMapJson | null | undefined, requested: PortMapJson | null | undefined): Array<PublishedPort> => {
  const keys = new Set([...Object.keys(actual ?? {}), ...Object.keys(requested ?? {})])
  const ports: Array<PublishedPort> = []
  for (const key of keys) {
    const bound = actual?.[key]
    const bindings = bound != null && bound.length > 0 ? bound : (requested?.[key] ?? [])
    ports.push(...toPublished(key, bindings))
  }
  return ports.sort((a, b) => a.containerPort - b.containerPort || byCodePoint(a.protocol, b.protocol) || byCodePoint(a.hostIp, b.hostIp))
}

/** A managed container from Docker's inspect JSON, or `null` when the container is not ours. */
export const toManagedContainer = (json: ContainerJson, scope: string = DEFAULT_SCOPE): ManagedContainer | null => {
  const labels = decodeLabels(json.Config.Labels, scope)
  if (labels === null) return null
  // The seven states are all Docker has; anything else would be a newer engine's, so call it dead.
  const state = isState(json.State.Status) ? json.State.Status : "dead"
  return {
    containerId: json.Id,
    containerName: json.Name.replace(/^\//, ""),
    name: labels.name,
    accountToolInstanceId: labels.accountToolInstanceId,
    kind: labels.kind,
    image: labels.image,
    imageId: json.Image ?? null,
    state,
    createdAt: unixSecondsOf(json.Created),
    startedAt: startedAtOf(json.State.StartedAt),
    // Docker keeps 0 (or 128 after a failed start) on containers that never exited: not an exit code.
    exitCode: state === "exited" || state === "dead" ? json.State.ExitCode : null,
    ports: publishedPortsOf(json.NetworkSettings.Ports, json.HostConfig.PortBindings),
    mcp: labels.mcp,
    oauth: labels.oauth,
    recipe: labels.recipe,
    isolatedFor: labels.isolatedFor,
  }
}

/**
 * What an inspect of a container Docker just created from `body` shows, known without asking:
 * everything but the image's id, which only Docker knows.
 */
export const createdContainerJson = (id: string, body: CreateContainerBody, created: string): ContainerJson => ({
  Id: id,
  Name: `/${body.name}`,
  Created: created,
  State: { Status: "created", StartedAt: ZERO_TIME, ExitCode: 0 },
  Config: { Labels: body.Labels, Env: body.Env },
  HostConfig: { PortBindings: body.HostConfig.PortBindings },
  NetworkSettings: { Ports: {} },
})
