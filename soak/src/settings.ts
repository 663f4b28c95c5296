/** Knobs of a soak run. */
export const SETTINGS = {
  clientsPerServer: 2,
  intervalMs: [3_000, 7_000] as const,
  cooldownMs: 30_000,
  marginMs: 5_000,
  sampleEveryMs: 3_000,
  warmupMs: 5_000,
  quietMs: 10_000,
  /** Lifetime of the OAuth tokens the backend stand-in mints: the DTMA refreshes them during the run. */
  tokenLifetimeSeconds: 120,
}
