import { describe, expect, it } from "vitest"
import { frameOfPerf, perfGroupOf, perfSamplesOf } from "../lib/perfScript.ts"

const SCRIPT = `MainThread 14338 36095.382636:     333444 cpu-clock: 
\t          d21dc4 unix_stream_sendmsg+0x24 ([kernel.kallsyms])
\t          d21f81 node::StreamBase::WriteString<(node::encoding)1>+0x71 (/usr/local/bin/node)
\t    7f42b68040c0 JS:+'writeGeneric node:internal/stream_base_commons:93:22+0x50 (/tmp/perf-1.map)
\t    7f42b68040d0 JS:+'Socket._writeGeneric node:net:1293:42+0x10 (/tmp/perf-1.map)
\t    7f42b68040e0 JS:+'#flush file:///w/packages/adapters/src/mcp/AttachStdioTransport.ts:104:9+0x10 (/tmp/perf-1.map)

MainThread 14338 36095.382700:     333444 cpu-clock: 
\t          d21dc4 tcp_sendmsg+0x24 ([kernel.kallsyms])
\t    7f42b68040d0 JS:*'Socket._writeGeneric node:net:1293:42+0x10 (/tmp/perf-1.map)
\t    7f42b68040d8 JS:*'_flushOutput node:_http_outgoing:1319:55+0x10 (/tmp/perf-1.map)
\t    7f42b68040e0 JS:+'#finish file:///w/packages/http/src/mcpProxy/PostAnswer.ts:152:10+0x10 (/tmp/perf-1.map)

MainThread 14338 36095.382969:     333444 cpu-clock: 
\t    7f42b6804100 JS:*'get length /w/node_modules/.pnpm/koa@3.3.0/node_modules/koa/lib/request.js:403:14+0x10 (/tmp/perf-1.map)
\t    7f42b6804200 JS:+ file:///w/packages/http/src/server/McpEndpointsFirst.ts:22:12+0x10 (/tmp/perf-1.map)

V8Worker 14340 36095.377353:     333444 cpu-clock: 
\t         11bd785 v8::internal::compiler::PipelineCompilationJob::ExecuteJobImpl+0x275 (/usr/local/bin/node)
`

describe("a perf script sample", () => {
  it("names a JS frame by its function and script, whatever its tier, and a native one by its symbol", () => {
    expect(frameOfPerf("JS:*'get length /w/koa/lib/request.js:403:14")).toEqual({ functionName: "get length", url: "/w/koa/lib/request.js" })
    expect(frameOfPerf("JS:+ file:///w/x.ts:22:12")).toEqual({ functionName: "", url: "file:///w/x.ts" })
    expect(frameOfPerf("finish_task_switch.isra.0")).toEqual({ functionName: "finish_task_switch.isra.0", url: "" })
  })

  it("goes to the write its syscall is under, to Koa, or to V8's worker threads", () => {
    const samples = perfSamplesOf(SCRIPT)
    expect(samples.map((s) => s.thread)).toEqual(["MainThread", "MainThread", "MainThread", "V8Worker"])
    expect(samples[0]?.stack[0]).toEqual({ functionName: "unix_stream_sendmsg", url: "" })
    expect(samples.map(perfGroupOf)).toEqual(["writes: upstream", "writes: the answer", "Koa middleware chain", "V8 worker threads (compiler, GC)"])
  })
})
