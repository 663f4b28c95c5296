import type { BenchDtma } from "./lib/dtma.ts"
import type { Plan } from "./plan.ts"

export const EVERYTHING_IMAGE = "dtma/mcp-everything:2026.8.31"
export const MEMORY_IMAGE = "dtma/mcp-memory:2026.8.31"

/** What every figure gets from the driver. */
export interface BenchContext {
  /** Unique per run: in container names and the `dtma.bench` label. */
  readonly runId: string
  /** Scratch space: the DTMA's log and state. */
  readonly runDir: string
  readonly plan: Plan
  /** The DTMA under test. */
  readonly dtma: BenchDtma
  /** Progress on stderr. */
  readonly log: (line: string) => void
}

/** The body of `POST /mcp-servers` for a stdio server. */
export const stdioDeploy = (name: string, image: string) => ({
  dockerImageUrl: image,
  instanceNameOnToolbox: name,
  accountToolInstanceId: `ati-${name}`,
  mcpTransportType: "stdio",
})

/** Deploys a stdio server through the DTMA; throws unless it answers 201. */
export const deployStdio = async (dtma: BenchDtma, name: string, image: string, isolation: "shared" | "per_agent" = "shared"): Promise<void> => {
  const { status, body } = await dtma.call("POST", "/mcp-servers", { ...stdioDeploy(name, image), isolation })
  if (status !== 201) throw new Error(`deploying ${name} (${image}) answered ${status}: ${JSON.stringify(body).slice(0, 500)}`)
}

export const removeServer = async (dtma: BenchDtma, name: string): Promise<void> => {
  const { status, body } = await dtma.call("DELETE", `/mcp-servers/${encodeURIComponent(name)}`)
  if (status !== 200) throw new Error(`removing ${name} answered ${status}: ${JSON.stringify(body).slice(0, 500)}`)
}

/** An agent token from the DTMA's built-in issuer, granted every tool of server `name`. */
export const agentTokenFor = (dtma: BenchDtma, name: string, agentId?: string): Promise<string> => agentTokenForServers(dtma, [name], agentId)

/** An agent token from the DTMA's built-in issuer, granted every tool of each server of `names`. */
export const agentTokenForServers = async (dtma: BenchDtma, names: ReadonlyArray<string>, agentId = "bench-agent"): Promise<string> => {
  const grants = names.map((server) => ({ server }))
  const { status, body } = await dtma.call("POST", "/agent-tokens", { agentId, grants, ttlSeconds: 3600 })
  const token = (body as { data?: { token?: unknown } } | null)?.data?.token
  if (status !== 201 || typeof token !== "string") throw new Error(`minting an agent token answered ${status}: ${JSON.stringify(body).slice(0, 500)}`)
  return token
}

/** A markdown table: a header row and rows of cells. */
export interface Table {
  readonly title: string
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly notes?: ReadonlyArray<string>
}

/** One line of the targets summary. */
export interface TargetCheck {
  readonly target: string
  readonly measured: string
  readonly met: boolean | null
}
