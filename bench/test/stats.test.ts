import { describe, expect, it } from "vitest"
import { packageOf } from "../lib/cpuProfile.ts"
import { percentile, summarize } from "../lib/stats.ts"

describe("the bench's order statistics", () => {
  it("take nearest-rank percentiles", () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1)
    expect([percentile(hundred, 50), percentile(hundred, 99), percentile(hundred, 100), percentile(hundred, 0)]).toEqual([50, 99, 100, 1])
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([], 50)).toBeNaN()
  })

  it("summarize a sample whatever its order", () => {
    expect(summarize([3, 1, 2, 4])).toEqual({ n: 4, p50: 2, p99: 4, min: 1, max: 4, mean: 2.5 })
  })
})

describe("the CPU profile summary", () => {
  it.each([
    ["file:///work/main/node_modules/.pnpm/effect@4.1.0/node_modules/effect/dist/internal/effect.js", "", "effect"],
    [
      "file:///w/node_modules/.pnpm/@modelcontextprotocol+sdk@1.32.2_zod@4.6.7/node_modules/@modelcontextprotocol/sdk/dist/esm/x.js",
      "",
      "@modelcontextprotocol/sdk",
    ],
    ["file:///work/main/packages/http/src/mcpProxy/McpProxy.ts", "handle", "@dtma/http"],
    ["node:internal/streams/writable", "write", "node (internals)"],
    ["", "(garbage collector)", "(garbage collector)"],
    ["", "writeUtf8String", "(native)"],
  ])("puts %s %s under %s", (url, name, pkg) => {
    expect(packageOf(url, name)).toBe(pkg)
  })
})
