import { costGroupOf, sourceUrlOf, type CostGroup, type Frame } from "./costGroups.ts"

/** One sample of `perf script`: the thread's name and its stack, leaf first. */
export interface PerfSample {
  readonly thread: string
  readonly stack: ReadonlyArray<Frame>
}

/** A frame of `perf script` as the cost groups read it: `--perf-basic-prof` names JS frames `JS:<tier>name url:line:col`. */
export const frameOfPerf = (symbol: string): Frame => {
  const js = /^JS:[*+^~']*(.*) (\S+?)(?::\d+:\d+)?$/.exec(symbol)
  if (js !== null) return { functionName: js[1] ?? "", url: sourceUrlOf(js[2] ?? "") }
  return { functionName: symbol, url: "" }
}

/** The samples of `perf script` output (a header line, then one frame a line, a blank line after each). */
export const perfSamplesOf = (text: string): ReadonlyArray<PerfSample> => {
  const samples: Array<PerfSample> = []
  for (const block of text.split(/\n\s*\n/)) {
    const [header, ...lines] = block.split("\n").filter((l) => l.trim() !== "")
    if (header === undefined) continue
    const stack = lines.map((l) =>
      frameOfPerf(
        l
          .trim()
          .replace(/^[0-9a-f]+ /, "")
          .replace(/\+0x[0-9a-f]+ \(.*\)$|\s\(.*\)$/, ""),
      ),
    )
    samples.push({ thread: header.trim().split(/\s+/)[0] ?? "", stack })
  }
  return samples
}

/** A socket write's JS frames in node (the outer one when V8 inlined the inner): perf's leaf is the kernel's, so the write is told by these. */
const NODE_WRITES = new Set(["writeGeneric", "writevGeneric", "Socket._writeGeneric"])

/**
 * The cost group of a perf sample: a V8 worker thread's (the optimising compilers, the concurrent
 * garbage collector) is its own; on the main thread, `costGroupOf`, a syscall under a socket write
 * counting as the write.
 */
export const perfGroupOf = (sample: PerfSample): CostGroup | "V8 worker threads (compiler, GC)" => {
  if (sample.thread !== "MainThread" && sample.thread !== "node") return "V8 worker threads (compiler, GC)"
  const write = sample.stack.findIndex((f) => NODE_WRITES.has(f.functionName) && f.url.startsWith("node:"))
  const firstJs = sample.stack.findIndex((f) => f.url !== "")
  if (write !== -1 && write === firstJs) return costGroupOf([{ functionName: "writev", url: "" }, ...sample.stack.slice(write)])
  return costGroupOf(sample.stack)
}
