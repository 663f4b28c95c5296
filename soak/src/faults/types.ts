import type { Api } from "../api.ts"
import type { ServerSpec } from "../fleet.ts"

export const FAULT_KINDS = ["docker-kill", "docker-pause", "docker-restart", "dtma-kill", "redeploy", "misbehaving"] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** A server a fault affected, and when it was healthy again (null: not within the recovery timeout). */
export interface Affected {
  readonly server: string
  readonly recoveredAt: number | null
}

/** One injected fault, as the report shows it. */
export interface FaultRecord {
  readonly kind: FaultKind
  /** The faulted server's name, or `*` for a fault of the DTMA itself. */
  readonly target: string
  readonly injectedAt: number
  readonly affected: ReadonlyArray<Affected>
  /** What happened, for a person: the action's outcome (`paused 7.1 s`, `redeploy 200`, …). */
  readonly detail: string
  /** The faulted server's health history from the injection to its recovery, as the API reported it then. */
  readonly history?: ReadonlyArray<string>
}

/** What a fault injector may use. */
export interface FaultContext {
  readonly api: Api
  readonly token: string
  readonly run: string
  readonly fleet: ReadonlyArray<ServerSpec>
  /** SIGKILLs the DTMA and starts it again (same scope, port and state); the moment it answers /health. */
  readonly restartDtma: () => Promise<number>
}

/** A fault of one server. */
export type ServerFault = (ctx: FaultContext, spec: ServerSpec) => Promise<FaultRecord>

export const between = (min: number, max: number): number => min + Math.random() * (max - min)
