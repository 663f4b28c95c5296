import { bearerPassThrough } from "./conformancePassThrough.ts"
import type { DtmaProcess } from "./dtmaProcess.ts"
import { CONFORMANCE_IMAGE, type ConformanceColumn, listedScenarios, runConformance, startFixtureHttp } from "./mcpProxyConformance.ts"

/** The suite's listed server scenarios, and what it made of the fixture reached each way. */
export interface ConformanceComparison {
  readonly scenarios: ReadonlyArray<string>
  /** First the fixture directly, then through the DTMA; `compared` says which must pass what it passes. */
  readonly columns: ReadonlyArray<ConformanceColumn & { readonly compared: boolean }>
}

export const DIRECT = "direct (HTTP)"

/** How the fixture is deployed to serve Streamable HTTP (its `http` command, port 3001) or stdio (its default). */
export const FIXTURE_OVER_HTTP = { mcpTransportType: "streamable_http", mcpPort: 3001, baseConfigOverrideJson: { Cmd: ["http"] } } as const
export const FIXTURE_OVER_STDIO = { mcpTransportType: "stdio" } as const

/** Deploys the conformance fixture on `dtma` as `name`, with the rest of the body from `body`; throws unless it answers 201. */
export const deployFixture = async (dtma: DtmaProcess, name: string, body: Readonly<Record<string, unknown>>): Promise<void> => {
  const res = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: CONFORMANCE_IMAGE,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    ...body,
  })
  if (res.status !== 201) throw new Error(`deploying ${CONFORMANCE_IMAGE} as ${name} answered ${res.status}: ${JSON.stringify(res.body)}`)
}

/**
 * Deploys the conformance fixture on `dtma` over Streamable HTTP and over stdio and runs the suite
 * against it directly and through the DTMA: each deployment's own endpoint (operator key), and `/mcp`
 * under an agent token granted one deployment, calling the names `/mcp` lists (`<server>__<name>`,
 * mapped by the pass-through). Once more on `/mcp` with the bare names the scenarios hard-code, which
 * `/mcp` does not know: that column is not compared; it shows which scenarios name a tool or prompt.
 * Removes what it deployed.
 */
export const compareConformance = async (dtma: DtmaProcess, label: string): Promise<ConformanceComparison> => {
  const http = `${label}-http`
  const stdio = `${label}-stdio`
  const closers: Array<() => unknown> = [() => dtma.call("DELETE", `/mcp-servers/${http}`), () => dtma.call("DELETE", `/mcp-servers/${stdio}`)]
  try {
    await Promise.all([deployFixture(dtma, http, FIXTURE_OVER_HTTP), deployFixture(dtma, stdio, FIXTURE_OVER_STDIO)])
    const agentOf = async (server: string): Promise<string> => {
      const minted = await dtma.call("POST", "/agent-tokens", { agentId: `${label}-agent-${server}`, grants: [{ server }], ttlSeconds: 1800 })
      if (minted.status !== 201) throw new Error(`minting an agent token answered ${minted.status}: ${JSON.stringify(minted.body)}`)
      return minted.body.data.token
    }
    const [httpAgent, stdioAgent] = [await agentOf(http), await agentOf(stdio)]
    const direct = await startFixtureHttp(label)
    closers.push(() => direct.stop())
    const through = async (path: string, token: string, names: { readonly server: string } | null = null) => {
      const passThrough = await bearerPassThrough(`${dtma.url}${path}`, token, names)
      closers.push(() => passThrough.close())
      return passThrough.url
    }
    const ways: ReadonlyArray<readonly [string, string, boolean]> = [
      [DIRECT, direct.url, true],
      ["/mcp-servers/:name/mcp (HTTP)", await through(`/mcp-servers/${http}/mcp`, dtma.token!), true],
      ["/mcp-servers/:name/mcp (stdio)", await through(`/mcp-servers/${stdio}/mcp`, dtma.token!), true],
      ["/mcp (HTTP, listed names)", await through("/mcp", httpAgent, { server: http }), true],
      ["/mcp (stdio, listed names)", await through("/mcp", stdioAgent, { server: stdio }), true],
      ["/mcp (HTTP, bare names)", await through("/mcp", httpAgent), false],
    ]
    const scenarios = await listedScenarios()
    const columns = []
    // One run at a time: the suite's own timings (50 ms log and progress steps) on a busy machine.
    for (const [columnLabel, url, compared] of ways) columns.push({ label: columnLabel, run: await runConformance(url), compared })
    return { scenarios, columns }
  } finally {
    for (const close of closers.reverse()) await close()
  }
}
