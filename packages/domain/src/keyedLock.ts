import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
/** Serialises effects that share a key; different keys run concurrently. Idle keys are forgotten. */
export const makeKeyedLock = () => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let entry = locks.get(key)
      if (entry === undefined) {
        entry = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
        locks.set(key, entry)
      }
      const held = entry
      held.users += 1
      return Semaphore.withPermits(held.semaphore, 1, effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            held.users -= 1
            if (held.users === 0) locks.delete(key)
          }),
        ),
      )
    })
}

export type KeyedLock = ReturnType<typeof makeKeyedLock>
