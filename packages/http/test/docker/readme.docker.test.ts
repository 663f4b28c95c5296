import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"

const README = readFileSync(join(import.meta.dirname, "..", "..", "..", "..", "README.md"), "utf8")

/** A curl walk-through of the README, exactly as a newcomer copies it. */
const walkthrough = (marker = "walkthrough"): string => {
  const section = new RegExp(`<!-- ${marker}:start -->\\n\`\`\`bash\\n([\\s\\S]*?)\`\`\`\\n<!-- ${marker}:end -->`).exec(README)?.[1]
  if (section === undefined) throw new Error(`README has no ${marker} block`)
  return section
}

/**
 * Runs an MCP walk-through against `dtma` with the server under `mcpName` (never a newcomer's own
 * `everything`; its tools as `/mcp` names them too), and a `memory` server, when there is one, under `memoryName`.
 */
const runMcpWalkthrough = (marker: string, dtma: DtmaProcess, mcpName: string, memoryName = "memory"): string => {
  const script = walkthrough(marker)
    .replaceAll("http://127.0.0.1:30000", dtma.url)
    .replaceAll("/var/lib/dtma", dtma.stateDir)
    .replaceAll('everything"', `${mcpName}"`)
    .replaceAll("/mcp-servers/everything", `/mcp-servers/${mcpName}`)
    .replaceAll('"everything__', `"${mcpName}__`)
    .replaceAll('"memory"', `"${memoryName}"`)
    .replaceAll("/mcp-servers/memory", `/mcp-servers/${memoryName}`)
  return execFileSync("bash", ["-euo", "pipefail", "-c", script], { encoding: "utf8", timeout: 90_000 })
}

describe("the README walk-through", () => {
  let dtma: DtmaProcess | undefined
  const name = `hello-tool-${Date.now().toString(36)}`
  afterAll(async () => {
    spawnSync("docker", ["rm", "-f", name])
    await dtma?.kill("SIGTERM")
  })

  it("deploys, stops, starts and removes a tool against a DTMA that generated its own token", async () => {
    dtma = await startDtma({ token: null })
    const toolPort = await freePort()
    // Only what differs between a droplet and a test run is replaced: the ports, the state
    // directory and the tool's name (so a run never touches a newcomer's own hello-tool).
    const script = walkthrough()
      .replaceAll("http://127.0.0.1:30000", dtma.url)
      .replaceAll("/var/lib/dtma", dtma.stateDir)
      .replaceAll("30101", String(toolPort))
      .replaceAll("hello-tool", name)
    const output = execFileSync("bash", ["-euo", "pipefail", "-c", script], { encoding: "utf8", timeout: 90_000 })
    expect(output).toContain("OK")
    expect(output).toContain(`"message":"Tool '${name}' deployed successfully."`)
    expect(output).toContain('"envNames":["TOOL_GREETING"]')
    expect(output).not.toContain('hello"')
    expect(output).toContain(`"message":"Tool instance '${name}' stopped successfully."`)
    expect(output).toContain(`"message":"Tool instance '${name}' started successfully."`)
    expect(output).toContain(`"message":"Tool instance '${name}' removed successfully."`)
    expect(execFileSync("docker", ["ps", "-aq", "--filter", `name=^${name}$`], { encoding: "utf8" }).trim()).toBe("")
  })

  it("deploys an MCP server, shows what it offers and removes it", async () => {
    dtma ??= await startDtma({ token: null })
    const mcpName = `everything-${Date.now().toString(36)}`
    const output = runMcpWalkthrough("mcp-walkthrough", dtma, mcpName)
    expect(output).toContain(`"message":"MCP server '${mcpName}' deployed."`)
    expect(output).toContain('"healthStatus":"healthy"')
    expect(output).toContain('"name":"echo"')
    expect(output).toContain(`"message":"MCP server '${mcpName}' removed."`)
    expect(execFileSync("docker", ["ps", "-aq", "--filter", `label=dtma.name=${mcpName}`], { encoding: "utf8" }).trim()).toBe("")
  }, 120_000)

  it("gives an agent a token that lists the granted server's tools, is refused the server it was not granted, and is revoked", async () => {
    dtma ??= await startDtma({ token: null })
    const mcpName = `agent-everything-${Date.now().toString(36)}`
    const output = runMcpWalkthrough("agent-walkthrough", dtma, mcpName)
    expect(output).toContain(`"message":"MCP server '${mcpName}' deployed."`)
    // tools/list, in the session the agent's token opened.
    expect(output).toMatch(/^\{"jsonrpc":"2\.0","id":2,"result":\{"tools":\[\{"name":"echo"/m)
    // The server it was not granted: 403 insufficient_scope.
    expect(output).toMatch(/^HTTP\/1\.1 403 /m)
    expect(output).toMatch(/^WWW-Authenticate: Bearer .*error="insufficient_scope"/im)
    expect(output).toContain(`"message":"Agent 'agent-demo' revoked: its tokens issued up to now are refused."`)
    // The same session's next request, once the agent is revoked.
    expect(output).toContain("tools/list after the revocation: 401")
    expect(output).toContain(`"message":"MCP server '${mcpName}' removed."`)
    // No JWT in the DTMA's log: the token was in the answer that minted it only.
    expect(dtma.output()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
  }, 120_000)

  it("serves one token's grants on two servers through /mcp under prefixed names, calls one, and removes both", async () => {
    dtma ??= await startDtma({ token: null })
    const stamp = Date.now().toString(36)
    const [mcpName, memoryName] = [`one-everything-${stamp}`, `one-memory-${stamp}`]
    const output = runMcpWalkthrough("mcp-agent-walkthrough", dtma, mcpName, memoryName)
    expect(output).toContain(`"message":"MCP server '${mcpName}' deployed."`)
    expect(output).toContain(`"message":"MCP server '${memoryName}' deployed."`)
    const listing = /^\{"jsonrpc":"2\.0","id":2,.*$/m.exec(output)?.[0]
    expect(listing).toBeDefined()
    const names = (JSON.parse(listing!).result.tools as ReadonlyArray<{ name: string }>).map((t) => t.name)
    expect(names).toEqual([`${mcpName}__echo`, `${mcpName}__get-sum`, `${memoryName}__read_graph`])
    expect(output).toMatch(/^\{"jsonrpc":"2\.0","id":3,"result":\{"content":\[\{"type":"text","text":"Echo: hi"/m)
    expect(output).toContain(`"message":"MCP server '${mcpName}' removed."`)
    expect(output).toContain(`"message":"MCP server '${memoryName}' removed."`)
    for (const server of [mcpName, memoryName])
      expect(execFileSync("docker", ["ps", "-aq", "--filter", `label=dtma.name=${server}`], { encoding: "utf8" }).trim()).toBe("")
  }, 120_000)
})
