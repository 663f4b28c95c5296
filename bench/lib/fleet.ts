import { performance } from "node:perf_hooks"
import { deployStdio, type BenchContext } from "../context.ts"
import { mapLimit } from "./load.ts"

/** Idle servers deployed through the DTMA, grown in steps; the deploy time adds up across steps. */
export interface Fleet {
  readonly image: string
  readonly size: () => number
  /** Time spent deploying so far (the sum of every `growTo`), ms. */
  readonly deployMs: () => number
  /** Deploys servers, `plan.deployConcurrency` at a time, until there are `n`. */
  growTo(n: number): Promise<void>
}

export const makeFleet = (ctx: BenchContext, image: string): Fleet => {
  const names: Array<string> = []
  let spent = 0
  return {
    image,
    size: () => names.length,
    deployMs: () => spent,
    async growTo(n) {
      const fresh = Array.from({ length: Math.max(0, n - names.length) }, (_, i) => `${ctx.runId}-idle-${names.length + i}`)
      const started = performance.now()
      await mapLimit(fresh, ctx.plan.deployConcurrency, (name) => deployStdio(ctx.dtma, name, image))
      spent += performance.now() - started
      names.push(...fresh)
      ctx.log(`fleet: ${names.length} servers (${image}), ${Math.round(spent / 100) / 10} s of deploys so far`)
    },
  }
}
