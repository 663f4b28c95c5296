import { execFileSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compareConformance } from "../support/conformanceComparison.ts"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { describeColumns } from "../support/mcpProxyConformance.ts"

// Issue 15's first Done-when: the official conformance suite's server scenarios (all that
// `conformance list` names) against the project's own fixture (images/mcp-conformance) directly, and
// the same list through a real DTMA, over Streamable HTTP and stdio, on both MCP endpoints.

const run = `cf${Date.now().toString(36)}`
const sorted = (items: ReadonlyArray<string>) => [...items].sort()
/** Server requests relayed to the calling client (issue 15, item 1), and the DTMA's own Host and Origin check. */
const RELAYED = ["tools-call-sampling", "tools-call-elicitation", "elicitation-sep1034-defaults", "elicitation-sep1330-enums", "dns-rebinding-protection"]

describe("the conformance fixture, directly and through a real DTMA", () => {
  let dtma: DtmaProcess

  beforeAll(async () => {
    // The suite's scenarios follow each other fast from one agent: its rate limit is not what this is about.
    dtma = await startDtma({ env: { DTMA_AGENT_RATE_PER_S: "10000", DTMA_AGENT_BURST: "10000" } })
  })
  afterAll(async () => {
    await dtma?.kill("SIGTERM")
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=dtma.test=${run}`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
    if (left.length > 0) execFileSync("docker", ["rm", "-f", ...left])
  })

  it("passes every listed server scenario directly, and the same list through each deployment's endpoint over HTTP and stdio and through /mcp", async () => {
    const { scenarios, columns } = await compareConformance(dtma, run)
    console.log(describeColumns(scenarios, columns))
    const [direct, ...through] = columns
    expect(sorted(direct!.run.passed)).toEqual(sorted(scenarios))
    for (const column of through.filter((c) => c.compared)) {
      expect([column.label, sorted(column.run.passed)]).toEqual([column.label, sorted(direct!.run.passed)])
      expect([column.label, column.run.passed]).toEqual([column.label, expect.arrayContaining(RELAYED)])
    }
  }, 600_000)
})
