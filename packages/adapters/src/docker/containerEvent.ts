import type { ContainerEvent, ContainerEventKind } from "@dtma/domain"
import { DEFAULT_SCOPE, LABEL, managedFilter } from "./labels.ts"

const KINDS: ReadonlyArray<string> = ["start", "die", "destroy", "oom", "pause", "unpause"] satisfies ReadonlyArray<ContainerEventKind>
const isKind = (s: unknown): s is ContainerEventKind => typeof s === "string" && KINDS.includes(s)

/** The filters of the event feed: the scope's managed containers, the kinds the domain knows. */
export const eventFilters = (scope: string = DEFAULT_SCOPE): Readonly<Record<string, ReadonlyArray<string>>> => ({
  type: ["container"],
  label: [managedFilter(scope)],
  event: KINDS,
})

const field = (value: unknown, key: string): unknown => (typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined)

/** Where an event sits in the feed: nanoseconds since the epoch, from `timeNano`, else `time`. */
export const eventTimeNano = (json: unknown): bigint | null => {
  const nano = field(json, "timeNano")
  if (typeof nano === "number" && Number.isFinite(nano)) return BigInt(Math.trunc(nano))
  const seconds = field(json, "time")
  return typeof seconds === "number" && Number.isFinite(seconds) ? BigInt(Math.trunc(seconds)) * 1_000_000_000n : null
}

/** A Docker event (one line of the feed, parsed) as the domain's, or `null` when it is none of ours. */
export const containerEventOf = (json: unknown, scope: string = DEFAULT_SCOPE): ContainerEvent | null => {
  const kind = field(json, "Action") ?? field(json, "status")
  const actor = field(json, "Actor")
  const attributes = field(actor, "Attributes")
  const containerId = field(actor, "ID") ?? field(json, "id")
  const name = field(attributes, LABEL.name)
  const at = eventTimeNano(json)
  if (field(json, "Type") !== "container" || !isKind(kind) || typeof containerId !== "string" || typeof name !== "string" || at === null) return null
  if (field(attributes, LABEL.managed) !== scope) return null
  const exit = kind === "die" ? Number(field(attributes, "exitCode")) : Number.NaN
  return { kind, containerId, name, exitCode: Number.isInteger(exit) ? exit : null, at: Number(at / 1_000_000n) }
}
