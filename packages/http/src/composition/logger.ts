import { pino, type DestinationStream, type Logger } from "pino"
import type { LogLevel } from "./config.ts"

export type { Logger } from "pino"

/** Keys whose values never reach a log line, at any depth. */
const SENSITIVE_KEY = /token|secret|password|passwd|authorization|cookie|api[-_]?key|^env/i

const CENSORED = "[Redacted]"
const MAX_DEPTH = 8

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype

/** A copy of `value` with every sensitive field censored. */
export const redactFields = (value: unknown, depth = 0): unknown => {
  if (depth > MAX_DEPTH) return value
  if (Array.isArray(value)) return value.map((item) => redactFields(item, depth + 1))
  if (!isPlainObject(value)) return value
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, SENSITIVE_KEY.test(key) ? CENSORED : redactFields(field, depth + 1)]))
}

/** JSON logs on stdout (or `destination`), sensitive fields censored. */
export const createLogger = (options: { readonly level: LogLevel; readonly destination?: DestinationStream }): Logger =>
  pino(
    {
      level: options.level,
      base: { service: "dtma" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactFields(object) as Record<string, unknown>,
      },
      redact: { paths: ["req.headers.authorization", "headers.authorization", "*.headers.authorization"], censor: CENSORED },
    },
    options.destination ?? pino.destination(1),
  )
