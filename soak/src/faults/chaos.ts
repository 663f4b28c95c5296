import { dockerKill, dockerPause, dockerRestart } from "./dockerFaults.ts"
import { dtmaKill, redeploy } from "./apiFaults.ts"
import { misbehaving } from "./misbehaving.ts"
import { between, type FaultContext, type FaultKind, type FaultRecord, type ServerFault } from "./types.ts"

export interface ChaosOptions {
  /** Unix ms after which no fault is injected. */
  readonly until: number
  readonly kinds: ReadonlyArray<FaultKind>
  /** A fault is injected every `intervalMs[0]`-`intervalMs[1]` ms (uniform). */
  readonly intervalMs: readonly [number, number]
  /** A server is not faulted again until this long after it recovered (under the restart breaker's 5 crashes in 120 s). */
  readonly cooldownMs: number
  /** At least this long between two SIGKILLs of the DTMA. */
  readonly dtmaGapMs: number
  /** No SIGKILL of the DTMA after this (Unix ms), so that one DTMA process lives long enough for a memory trend. */
  readonly dtmaUntil: number
  readonly scope: string
  readonly log: (line: string) => void
}

const SERVER_FAULTS: Partial<Record<FaultKind, ServerFault>> = {
  "docker-kill": dockerKill,
  "docker-pause": dockerPause,
  "docker-restart": dockerRestart,
  redeploy,
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pick = <A>(items: ReadonlyArray<A>): A | undefined => items[Math.floor(Math.random() * items.length)]

const describe = (f: FaultRecord): string => {
  const times = f.affected.map((a) => (a.recoveredAt === null ? "NOT RECOVERED" : `${a.recoveredAt - f.injectedAt} ms`))
  return `${f.kind} ${f.target === "*" ? "(DTMA)" : f.target}: ${f.detail}; recovered ${f.target === "*" ? `max ${times.sort().at(-1)}` : times.join(", ")}`
}

/**
 * Injects a random fault every few seconds until `until`, then waits for the faults in flight.
 * At most one fault per server at a time; a SIGKILL of the DTMA waits for the faults in flight
 * and holds back new ones until every server is back. Kinds not injected yet are preferred.
 */
export const runChaos = async (ctx: FaultContext, options: ChaosOptions): Promise<ReadonlyArray<FaultRecord>> => {
  const records: Array<FaultRecord> = []
  const inFlight = new Set<Promise<void>>()
  const busy = new Set<string>()
  const injected = new Set<FaultKind>()
  const cooldownUntil = new Map<string, number>()
  const state = { dtma: false, misbehaving: false, lastDtmaKill: Date.now() - options.dtmaGapMs / 2, dtmaDue: false }
  const track = (label: string, fault: Promise<FaultRecord>, done: (r: FaultRecord | null) => void) => {
    const p: Promise<void> = fault
      .then(
        (r) => (records.push(r), options.log(describe(r)), done(r)),
        (e: unknown) => (options.log(`${label} failed to run: ${String(e)}`), done(null)),
      )
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  while (Date.now() < options.until) {
    await sleep(between(...options.intervalMs))
    if (Date.now() >= options.until || state.dtma) continue
    const now = Date.now()
    const free = ctx.fleet.filter((s) => !busy.has(s.name) && (cooldownUntil.get(s.name) ?? 0) <= now)
    const dtmaReady = options.kinds.includes("dtma-kill") && now - state.lastDtmaKill >= options.dtmaGapMs && now < options.dtmaUntil
    const candidates = options.kinds.filter((k) =>
      k === "dtma-kill" ? dtmaReady : k === "misbehaving" ? !state.misbehaving : SERVER_FAULTS[k] !== undefined && free.length > 0,
    )
    // Kinds not injected yet go first, so that even a short run sees every kind.
    const fresh = candidates.filter((k) => !injected.has(k))
    if (now >= options.dtmaUntil) state.dtmaDue = false
    const kind = state.dtmaDue ? "dtma-kill" : pick(fresh.length > 0 ? fresh : candidates)
    if (kind === undefined) continue
    injected.add(kind)
    if (kind === "dtma-kill") {
      // Wait for the faults in flight, holding back new ones, then kill the DTMA.
      if (inFlight.size > 0) {
        state.dtmaDue = true
        continue
      }
      state.dtmaDue = false
      state.dtma = true
      options.log("injecting dtma-kill")
      track("dtma-kill", dtmaKill(ctx), () => ((state.dtma = false), (state.lastDtmaKill = Date.now())))
    } else if (kind === "misbehaving") {
      state.misbehaving = true
      options.log("injecting misbehaving")
      track("misbehaving", misbehaving(ctx, options.scope), () => (state.misbehaving = false))
    } else {
      const spec = pick(free)!
      busy.add(spec.name)
      options.log(`injecting ${kind} on ${spec.name}`)
      track(kind, SERVER_FAULTS[kind]!(ctx, spec), () => (busy.delete(spec.name), cooldownUntil.set(spec.name, Date.now() + options.cooldownMs)))
    }
  }
  while (inFlight.size > 0) await Promise.all(inFlight)
  return records
}
