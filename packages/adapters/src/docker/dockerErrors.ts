import {
  ContainerNameConflict,
  ContainerNotFound,
  HostPortUnavailable,
  ImageUnavailable,
  maskerOf,
  RuntimeOperationFailed,
  RuntimeUnavailable,
  type RuntimeFailure,
  type RuntimeOperation,
} from "@dtma/domain"

// Socket-level failures: the daemon is down, its socket is missing, or it dropped the connection.
const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "EPIPE", "ECONNRESET", "EACCES", "ETIMEDOUT"])

const fieldOf = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

/** The HTTP status Docker answered with, if the failure is an HTTP answer. */
export const statusCodeOf = (error: unknown): number | undefined => {
  const status = fieldOf(error, "statusCode")
  return typeof status === "number" ? status : undefined
}

/** Docker's own message, without the `(HTTP code 500) server error - ` prefix dockerode adds. */
export const dockerMessageOf = (error: unknown): string => {
  const json = fieldOf(fieldOf(error, "json"), "message")
  if (typeof json === "string" && json !== "") return json
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim()
}

/**
 * Replaces every occurrence of the secrets, of each line of a multi-line one and of their JSON-escaped
 * forms (Docker may quote what it echoes), so no part of one survives.
 */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => maskerOf(secrets, "<redacted>")(text)

const isUnreachable = (error: unknown): boolean => {
  const code = fieldOf(error, "code")
  return statusCodeOf(error) === undefined && typeof code === "string" && UNREACHABLE.has(code)
}

/** The failure every operation can have: the daemon is unreachable, or it refused with a message. */
export const runtimeFailure = (operation: RuntimeOperation, error: unknown, secrets: ReadonlyArray<string> = []): RuntimeFailure => {
  const detail = redact(dockerMessageOf(error), secrets)
  return isUnreachable(error) ? new RuntimeUnavailable({ detail }) : new RuntimeOperationFailed({ operation, detail })
}

export const createFailure =
  (containerName: string, secrets: ReadonlyArray<string>) =>
  (error: unknown): ContainerNameConflict | RuntimeFailure =>
    statusCodeOf(error) === 409 ? new ContainerNameConflict({ containerName }) : runtimeFailure("create", error, secrets)

/** The host port a start failed to bind, from Docker's message, or `null` when it is about something else. */
export const unavailableHostPortOf = (message: string): number | null => {
  const at = message.search(/port is already allocated|address already in use/)
  if (at < 0) return null
  const last = [...message.slice(0, at).matchAll(/:(\d{1,5})(?!\d)/g)].at(-1)
  return last?.[1] === undefined ? null : Number(last[1])
}

export const startFailure =
  (containerId: string) =>
  (error: unknown): ContainerNotFound | HostPortUnavailable | RuntimeFailure => {
    if (statusCodeOf(error) === 404) return new ContainerNotFound({ containerId })
    const hostPort = unavailableHostPortOf(dockerMessageOf(error))
    return hostPort === null ? runtimeFailure("start", error) : new HostPortUnavailable({ hostPort })
  }

export const notFoundOr =
  (operation: RuntimeOperation, containerId: string) =>
  (error: unknown): ContainerNotFound | RuntimeFailure =>
    statusCodeOf(error) === 404 ? new ContainerNotFound({ containerId }) : runtimeFailure(operation, error)

export const pullFailure =
  (image: string) =>
  (error: unknown): ImageUnavailable | RuntimeUnavailable =>
    isUnreachable(error)
      ? new RuntimeUnavailable({ detail: dockerMessageOf(error) })
      : new ImageUnavailable({ image, reason: "pull_failed", detail: dockerMessageOf(error) })
