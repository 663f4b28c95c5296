import { serverPath, type Api } from "./api.ts"
import type { ServerSpec } from "./fleet.ts"
import { callCheap, connectClient, dropClient } from "./mcp.ts"

/** How long a faulted server has to be healthy again before the fault counts as unrecovered. */
export const RECOVERY_TIMEOUT_MS = 120_000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** One probe through the endpoint: a fresh session and one call of the server's cheap tool. */
export const probeOnce = async (spec: ServerSpec, endpoint: string, token: string): Promise<boolean> => {
  const client = await connectClient(endpoint, token).catch(() => null)
  if (client === null) return false
  try {
    await callCheap(client, spec.tool, `soak recovery probe ${Date.now()}`)
    return true
  } catch {
    return false
  } finally {
    await dropClient(client)
  }
}

/**
 * Waits until the server is healthy again as the DTMA reports it (`GET /mcp-servers/:name`) and a
 * call through its endpoint succeeds; the moment that call answered, or null after `timeoutMs`.
 */
export const waitRecovered = async (api: Api, spec: ServerSpec, token: string, timeoutMs = RECOVERY_TIMEOUT_MS): Promise<number | null> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const detail = await api.detail(spec.name)
    if (detail?.healthStatus === "healthy" && (await probeOnce(spec, `${api.url()}/mcp-servers/${encodeURIComponent(spec.name)}/mcp`, token))) return Date.now()
    await sleep(200)
  }
  return null
}

/** The server's health history since `since`, for a person: `+<ms> <status> (<detail>)`, plus its restart count. */
export const historySince = async (api: Api, name: string, since: number): Promise<ReadonlyArray<string>> => {
  const answer = await api.call("GET", serverPath(name), undefined, 5_000).catch(() => null)
  if (answer?.status !== 200) return []
  const data = answer.body.data as { restartCount: number; healthHistory: ReadonlyArray<{ at: string; status: string; detail: string | null }> }
  const entries = data.healthHistory
    .filter((h) => Date.parse(h.at) >= since)
    .map((h) => `+${Date.parse(h.at) - since} ms ${h.status}${h.detail === null ? "" : ` (${h.detail.slice(0, 160)})`}`)
  return [...entries, `restartCount ${data.restartCount}`]
}
