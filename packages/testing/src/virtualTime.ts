import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"

/** Lets every fiber and promise that can run now run; no time passes. */
export const settle = async (turns = 30): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A runtime whose clock only moves when the test says so (`advance`), and a scope that the effects
 * it runs may fork background work into. Use-case tests run on it instead of sleeping in real time.
 */
export interface VirtualTime {
  /** The virtual time, in unix ms: what fakes that stamp times (`InMemoryContainerRuntime`'s `now`) should read. */
  now(): number
  run<A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A>
  /** The typed failure of an effect that must fail. */
  failure<A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<E>
  /** Moves the clock by `ms`, running every timer due, then lets what they started settle. */
  advance(ms: number): Promise<void>
  /** Advances in `stepMs` steps until `check` passes or `limitMs` of virtual time is spent. */
  until(check: () => boolean | Promise<boolean>, options?: { readonly stepMs?: number; readonly limitMs?: number }): Promise<void>
  /** Closes the scope (stopping the background work) and the runtime. */
  close(): Promise<void>
}

/** Where virtual time starts: a plausible date, so that timestamps read like real ones. */
const EPOCH = Date.UTC(2026, 11, 1)

export const virtualTime = (): VirtualTime => {
  const runtime = ManagedRuntime.make(TestClock.layer())
  const scope = Scope.makeUnsafe()
  let current = EPOCH
  const started = runtime.runPromise(TestClock.setTime(EPOCH))
  const run: VirtualTime["run"] = (effect) => started.then(() => runtime.runPromise(effect.pipe(Scope.provide(scope))))
  const advance: VirtualTime["advance"] = async (ms) => {
    await started
    await settle()
    current += ms
    await runtime.runPromise(TestClock.adjust(ms))
    await settle()
  }
  return {
    now: () => current,
    run,
    failure: async (effect) => {
      await started
      const exit = await runtime.runPromiseExit(effect.pipe(Scope.provide(scope)))
      if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
      const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
      if (failure === undefined || failure._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
      return failure.error
    },
    advance,
    until: async (check, options = {}) => {
      const stepMs = options.stepMs ?? 10
      for (let spent = 0; !(await check()); spent += stepMs) {
        if (spent > (options.limitMs ?? 60_000)) throw new Error(`still not true after ${spent} ms of virtual time`)
        await advance(stepMs)
      }
    },
    close: async () => {
      await started
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    },
  }
}
