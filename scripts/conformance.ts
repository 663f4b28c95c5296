// Runs every server scenario of the official MCP conformance suite (@modelcontextprotocol/conformance,
// `conformance list`) against the project's own fixture server (images/mcp-conformance): directly over
// Streamable HTTP, and through a DTMA — each deployment's own endpoint (the fixture deployed over
// Streamable HTTP and over stdio) and `/mcp` under an agent token. Prints the lists side by side;
// exits 1 when the fixture misses a scenario directly, or a compared way through the DTMA passes a
// different list than the direct one.
import { compareConformance } from "../packages/http/test/support/conformanceComparison.ts"
import { startDtma } from "../packages/http/test/support/dtmaProcess.ts"
import { describeColumns } from "../packages/http/test/support/mcpProxyConformance.ts"

const dtma = await startDtma({ env: { DTMA_AGENT_RATE_PER_S: "10000", DTMA_AGENT_BURST: "10000" } })
let status = 1
try {
  const { scenarios, columns } = await compareConformance(dtma, `conformance-${Date.now().toString(36)}`)
  console.log(describeColumns(scenarios, columns))
  const [direct, ...through] = columns
  const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((s) => b.includes(s))
  status = direct !== undefined && same(direct.run.passed, scenarios) && through.every((c) => !c.compared || same(c.run.passed, direct.run.passed)) ? 0 : 1
} finally {
  await dtma.kill("SIGTERM")
}
process.exit(status)
