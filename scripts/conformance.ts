// Runs the official MCP server conformance suite (@modelcontextprotocol/conformance, active
// scenarios) against server-everything twice: directly in its own Streamable HTTP mode, and through
// a DTMA's proxied endpoint for the same image deployed over stdio. Prints both lists of passed
// scenarios; exits 1 when the DTMA misses a scenario the direct server passes.
import { startDtma } from "../packages/http/test/support/dtmaProcess.ts"
import { bearerPassThrough, describeRuns, EVERYTHING_IMAGE, runConformance, startEverythingHttp } from "../packages/http/test/support/mcpProxyConformance.ts"

const name = `conformance-${Date.now().toString(36)}`
const dtma = await startDtma()
const direct = await startEverythingHttp(name)
let missed = 1
try {
  const deployed = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: EVERYTHING_IMAGE,
    instanceNameOnToolbox: name,
    accountToolInstanceId: name,
    mcpTransportType: "stdio",
  })
  if (deployed.status !== 201) throw new Error(`deploying ${EVERYTHING_IMAGE} failed: ${deployed.status} ${JSON.stringify(deployed.body)}`)
  const passThrough = await bearerPassThrough(`${dtma.url}/mcp-servers/${name}/mcp`, dtma.token ?? "")
  try {
    const straight = await runConformance(direct.url)
    const viaDtma = await runConformance(passThrough.url)
    console.log(`server-everything (${EVERYTHING_IMAGE}) directly at ${direct.url}, and over stdio behind the DTMA:`)
    console.log(describeRuns(straight, viaDtma))
    missed = straight.passed.filter((s) => !viaDtma.passed.includes(s)).length
  } finally {
    await passThrough.close()
  }
} finally {
  await dtma.call("DELETE", `/mcp-servers/${name}`)
  await dtma.kill("SIGTERM")
  direct.stop()
}
process.exit(missed === 0 ? 0 : 1)
