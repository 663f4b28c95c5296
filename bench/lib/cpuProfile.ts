import { readFileSync } from "node:fs"
import { costGroupOf, sourceUrlOf, type CostGroup } from "./costGroups.ts"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  /** Monotonic clock (CLOCK_MONOTONIC), µs: the same clock as `process.hrtime`. */
  readonly startTime: number
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * A profile read from `file`, the built DTMA's scripts (`packages/<name>/dist/….js`) named by their
 * sources (`packages/<name>/src/….ts`), as the cost groups and the reports name them; line numbers
 * stay the built file's.
 */
const readProfile = (file: string): CpuProfile =>
  JSON.parse(readFileSync(file, "utf8"), (key, value: unknown) => (key === "url" && typeof value === "string" ? sourceUrlOf(value) : value)) as CpuProfile

/** Where a V8 CPU profile spent its time: by package (self time) and by function (self and total). */
export interface ProfileSummary {
  /** Sampled time that was not idle, in ms. */
  readonly busyMs: number
  readonly idleMs: number
  readonly byPackage: ReadonlyArray<{ readonly name: string; readonly selfMs: number; readonly share: number }>
  readonly topSelf: ReadonlyArray<{ readonly frame: string; readonly selfMs: number; readonly share: number }>
  readonly topTotal: ReadonlyArray<{ readonly frame: string; readonly totalMs: number; readonly share: number }>
}

/** The package a script belongs to: a dependency's name, a workspace package, node's internals, or V8's pseudo-frames. */
export const packageOf = (url: string, functionName: string): string => {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)"
  const dep = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (dep?.[1] !== undefined) return dep[1]
  const workspace = /\/packages\/([^/]+)\/src\//.exec(url)
  if (workspace?.[1] !== undefined) return `@dtma/${workspace[1]}`
  if (url.startsWith("node:")) return "node (internals)"
  return url
}

const frameOf = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/^.*\/packages\//, "packages/")
    .replace(/^file:\/\//, "")
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`
}

const top = <T>(entries: Map<string, number>, total: number, n: number, make: (name: string, ms: number, share: number) => T): Array<T> =>
  [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => make(name, Math.round(us / 100) / 10, Math.round((us / total) * 1000) / 10))

/** Monotonic µs bounds (from `process.hrtime.bigint() / 1000n`) of the samples to count. */
export interface ProfileWindow {
  readonly fromUs: number
  readonly toUs: number
}

export const summarizeProfile = (file: string, options: { readonly window?: ProfileWindow; readonly topN?: number } = {}): ProfileSummary => {
  const topN = options.topN ?? 25
  const profile = readProfile(file)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  let sampledAt = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    sampledAt += delta
    if (options.window !== undefined && (sampledAt < options.window.fromUs || sampledAt > options.window.toUs)) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })
  let idle = 0
  const byPackage = new Map<string, number>()
  const bySelf = new Map<string, number>()
  const byTotal = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)
    if (node === undefined) continue
    if (node.callFrame.functionName === "(idle)") {
      idle += us
      continue
    }
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
    bySelf.set(frameOf(node), (bySelf.get(frameOf(node)) ?? 0) + us)
    // Total time: each distinct frame on the sample's stack once (recursion counted once).
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)
      if (frame === undefined || frame.callFrame.functionName === "(root)") continue
      const name = frameOf(frame)
      if (seen.has(name)) continue
      seen.add(name)
      byTotal.set(name, (byTotal.get(name) ?? 0) + us)
    }
  }
  const busy = [...byPackage.values()].reduce((a, b) => a + b, 0)
  return {
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    byPackage: top(byPackage, busy, 20, (name, selfMs, share) => ({ name, selfMs, share })),
    topSelf: top(bySelf, busy, topN, (frame, selfMs, share) => ({ frame, selfMs, share })),
    topTotal: top(byTotal, busy, topN, (frame, totalMs, share) => ({ frame, totalMs, share })),
  }
}

/** Sampled busy time by `costGroupOf` the sample's stack, in ms, heaviest first (idle left out). */
export const costByGroup = (
  file: string,
  options: { readonly window?: ProfileWindow } = {},
): ReadonlyArray<{ readonly group: CostGroup; readonly ms: number }> => {
  const profile = readProfile(file)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const groupOfNode = new Map<number, CostGroup | null>()
  const groupOf = (id: number): CostGroup | null => {
    const known = groupOfNode.get(id)
    if (known !== undefined) return known
    const stack: Array<ProfileNode["callFrame"]> = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)
      if (frame !== undefined && frame.callFrame.functionName !== "(root)") stack.push(frame.callFrame)
    }
    const group = stack[0]?.functionName === "(idle)" ? null : costGroupOf(stack)
    groupOfNode.set(id, group)
    return group
  }
  const us = new Map<CostGroup, number>()
  let sampledAt = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    sampledAt += delta
    if (options.window !== undefined && (sampledAt < options.window.fromUs || sampledAt > options.window.toUs)) return
    const group = groupOf(id)
    if (group !== null) us.set(group, (us.get(group) ?? 0) + delta)
  })
  return [...us].sort((a, b) => b[1] - a[1]).map(([group, total]) => ({ group, ms: total / 1000 }))
}
