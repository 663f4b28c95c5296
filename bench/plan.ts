/** How much of each figure a run measures: the full run for the report, a quick one for CI. */
export interface Plan {
  readonly quick: boolean
  /** Cold starts per path. */
  readonly coldStarts: number
  /** Concurrent clients of the call-overhead figure. */
  readonly callClients: ReadonlyArray<number>
  readonly callWarmupMs: number
  readonly callDurationMs: number
  /**
   * Rounds of the operator key against an agent token (a second each, a quarter in a quick run): the
   * difference sought (0.05 ms) is a fiftieth of the spread of one round's p50 at 8 clients.
   */
  readonly authorizationRounds: number
  /** Server counts at which discovery is polled. */
  readonly discoveryServers: ReadonlyArray<number>
  readonly discoveryPollers: number
  readonly discoveryWarmupMs: number
  readonly discoveryDurationMs: number
  /** Server counts at which the idle DTMA is measured. */
  readonly densityServers: ReadonlyArray<number>
  /** Pause after the last deploy before the idle window starts. */
  readonly idleSettleMs: number
  readonly idleWindowMs: number
  /** Deploys in flight at once while the fleet grows. */
  readonly deployConcurrency: number
  /** Servers of `MCP_TOOL_COUNT=50` tools that `/mcp` lists together, and the sessions listing them at once. */
  readonly agentListServers: number
  readonly agentListClients: ReadonlyArray<number>
  /** The CPU-profiled proxied-call run (`--profile`). */
  readonly profileClients: ReadonlyArray<number>
  readonly profileDurationMs: number
}

export const FULL_PLAN: Plan = {
  quick: false,
  coldStarts: 10,
  callClients: [1, 8, 32],
  callWarmupMs: 2_000,
  callDurationMs: 8_000,
  authorizationRounds: 24,
  discoveryServers: [1, 10, 50],
  discoveryPollers: 32,
  discoveryWarmupMs: 1_000,
  discoveryDurationMs: 5_000,
  densityServers: [10, 50, 100],
  idleSettleMs: 10_000,
  idleWindowMs: 30_000,
  deployConcurrency: 4,
  agentListServers: 10,
  agentListClients: [1, 32],
  profileClients: [1, 8],
  profileDurationMs: 8_000,
}

/** A couple of minutes at most, 1–2 servers: it checks the harness still runs, not the numbers. */
export const QUICK_PLAN: Plan = {
  quick: true,
  coldStarts: 2,
  callClients: [1, 8],
  callWarmupMs: 300,
  callDurationMs: 1_000,
  authorizationRounds: 4,
  discoveryServers: [1, 2],
  discoveryPollers: 8,
  discoveryWarmupMs: 200,
  discoveryDurationMs: 1_000,
  densityServers: [2],
  idleSettleMs: 500,
  idleWindowMs: 2_000,
  deployConcurrency: 2,
  agentListServers: 2,
  agentListClients: [1, 8],
  profileClients: [1],
  profileDurationMs: 1_000,
}

/** The fleet sizes the run grows through, ascending. */
export const fleetSizes = (plan: Plan): ReadonlyArray<number> => [...new Set([...plan.discoveryServers, ...plan.densityServers])].sort((a, b) => a - b)
