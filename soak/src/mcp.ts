import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { CheapTool } from "./fleet.ts"

/** How long a client waits for a connect or a call before counting it failed. */
export const CALL_TIMEOUT_MS = 30_000

/** An official SDK Streamable HTTP client of a DTMA's proxied endpoint, bearer-authenticated. */
export const connectClient = async (endpoint: string, token: string): Promise<Client> => {
  const client = new Client({ name: "dtma-soak", version: "1.0.0" })
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    reconnectionOptions: { maxReconnectionDelay: 2_000, initialReconnectionDelay: 500, reconnectionDelayGrowFactor: 1.5, maxRetries: 2 },
  })
  try {
    await client.connect(transport, { timeout: CALL_TIMEOUT_MS })
  } catch (error) {
    await client.close().catch(() => undefined)
    throw error
  }
  return client
}

/** Ends a client's session (DELETE, best effort, bounded) and closes it. */
export const dropClient = async (client: Client): Promise<void> => {
  const transport = client.transport
  if (transport instanceof StreamableHTTPClientTransport) {
    await Promise.race([transport.terminateSession().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))])
  }
  await client.close().catch(() => undefined)
}

const textOf = (result: unknown): string => (result as { content?: Array<{ text?: string }> }).content?.[0]?.text ?? ""

/** Calls the server's cheap tool once with a distinct argument and checks the answer is its own. */
export const callCheap = async (client: Client, tool: CheapTool, tag: string): Promise<void> => {
  if (tool === "echo") {
    const result = await client.callTool({ name: "echo", arguments: { message: tag } }, undefined, { timeout: CALL_TIMEOUT_MS })
    if (textOf(result) !== `Echo: ${tag}`) throw new Error(`echo of '${tag}' answered '${textOf(result).slice(0, 200)}'`)
    return
  }
  const result = await client.callTool({ name: "read_graph", arguments: {} }, undefined, { timeout: CALL_TIMEOUT_MS })
  if (result.isError === true || !textOf(result).includes('"entities"')) throw new Error(`read_graph answered '${textOf(result).slice(0, 200)}'`)
}
