import { join } from "node:path"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { attachStdio } from "./attachTransport.ts"
import { startChildServer } from "./childServer.ts"
import { onCleanup } from "./cleanup.ts"
import { BENCH_LABEL, docker, HARDENED_STDIO } from "./docker.ts"
import type { Operation } from "./load.ts"

/** An initialized MCP client and how to let it go. */
export interface Connected {
  readonly client: Client
  close(): Promise<void>
}

const connect = async (transport: Transport, timeoutMs = 60_000): Promise<Client> => {
  const client = new Client({ name: "dtma-bench", version: "1.0.0" })
  await client.connect(transport, { timeout: timeoutMs })
  return client
}

/**
 * The direct path: a container of `image` run as the DTMA runs a stdio server, and an SDK client
 * on its attach stream (no process between the client and Docker).
 */
export const directStdio = async (options: { readonly image: string; readonly name: string; readonly runId: string }): Promise<Connected> => {
  const { container, remove } = await stdioContainer(options)
  const transport = await attachStdio(container.id)
  await container.start()
  const client = await connect(transport)
  return {
    client,
    close: async () => {
      await client.close()
      await remove()
    },
  }
}

/**
 * The floor of a proxied call: a container of `image` run as the DTMA runs a stdio server, behind
 * bench/lib/floorProxy.ts (the least a proxy must do) in a process of its own; its Streamable HTTP
 * endpoint's URL and that process's pid (whose CPU is the floor's).
 */
export const floorProxied = async (options: {
  readonly image: string
  readonly name: string
  readonly runId: string
}): Promise<{ readonly url: string; readonly pid: number; close(): Promise<void> }> => {
  const { container, remove } = await stdioContainer(options)
  const proxy = await startChildServer(join(import.meta.dirname, "floorProxy.ts"), [container.id])
  const close = async () => {
    proxy.stop()
    await remove()
  }
  return { url: `http://127.0.0.1:${proxy.port}/mcp`, pid: proxy.pid, close }
}

/** A container of `image` created (not started) with the DTMA's stdio settings, and its removal (registered for clean-up). */
const stdioContainer = async (options: { readonly image: string; readonly name: string; readonly runId: string }) => {
  const container = await docker.createContainer({
    name: options.name,
    Image: options.image,
    Labels: { [BENCH_LABEL]: options.runId },
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: HARDENED_STDIO,
  })
  const remove = () => container.remove({ force: true }).catch(() => undefined)
  onCleanup(`container ${options.name}`, remove)
  return { container, remove }
}

/** A client of a Streamable HTTP endpoint (the DTMA's, or supergateway's), one session each. */
export const streamableHttp = async (url: string, headers: Readonly<Record<string, string>> = {}): Promise<Connected> => {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { ...headers } } })
  const client = await connect(transport)
  return {
    client,
    close: async () => {
      await transport.terminateSession().catch(() => undefined)
      await client.close()
    },
  }
}

/**
 * server-everything's `echo` (under `tool`, its name on `/mcp`) with a distinct message per call;
 * the answer is checked, so a wrong or mixed-up answer counts as an error.
 */
export const echoCall =
  (client: Client, tool = "echo"): Operation =>
  async (sequence) => {
    const message = `bench ${sequence}`
    const result = await client.callTool({ name: tool, arguments: { message } })
    const text = (result.content as ReadonlyArray<{ text?: string }> | undefined)?.[0]?.text ?? ""
    if (!text.endsWith(message)) throw new Error(`echo answered '${text}' to '${message}'`)
  }

/** Opens `n` sessions on a Streamable HTTP endpoint, each waiting until the endpoint answers (a server just deployed). */
export const httpSessions =
  (url: string, headers: Readonly<Record<string, string>> = {}) =>
  (n: number): Promise<ReadonlyArray<Connected>> =>
    Promise.all(Array.from({ length: n }, () => connectWhenReady(() => streamableHttp(url, headers), 30_000)))

/** Waits until `open` connects (a server that has just started), up to `timeoutMs`. */
export const connectWhenReady = async (open: () => Promise<Connected>, timeoutMs: number): Promise<Connected> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await open()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}
