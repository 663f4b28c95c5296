/** An answer of the DTMA's HTTP API: status and parsed JSON body (or text). */
export interface Answer {
  readonly status: number
  // API bodies are read field by field where they are used.
  // oxlint-disable-next-line typescript/no-explicit-any
  readonly body: any
}

/** What the soak reads of `GET /mcp-servers/:name`. */
export interface ServerDetail {
  readonly healthStatus: string
  readonly restartCount: number
  readonly lastError: string | null
  readonly container: { readonly id: string; readonly state: string; readonly image: string }
}

/** The DTMA's HTTP API as the soak uses it, authenticated with the bearer token. */
export interface Api {
  readonly url: () => string
  call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Answer>
  /** `GET /mcp-servers/:name`'s data, or null when the DTMA does not answer 200. */
  detail(name: string): Promise<ServerDetail | null>
  /** Names and container ids of every MCP server `GET /mcp-servers` lists. */
  list(): Promise<ReadonlyArray<{ readonly name: string; readonly containerId: string }>>
}

export const serverPath = (name: string): string => `/mcp-servers/${encodeURIComponent(name)}`

export const makeApi = (url: () => string, token: string): Api => {
  const call = async (method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<Answer> => {
    const response = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await response.text()
    try {
      return { status: response.status, body: JSON.parse(text) }
    } catch {
      return { status: response.status, body: text }
    }
  }
  return {
    url,
    call,
    detail: async (name) => {
      const answer = await call("GET", serverPath(name), undefined, 5_000).catch(() => null)
      return answer?.status === 200 ? (answer.body.data as ServerDetail) : null
    },
    list: async () => {
      const answer = await call("GET", "/mcp-servers", undefined, 10_000)
      if (answer.status !== 200) throw new Error(`GET /mcp-servers answered ${answer.status}`)
      const servers = (answer.body.data?.servers ?? answer.body.data) as ReadonlyArray<{ instanceName: string; containerId: string }>
      return servers.map((s) => ({ name: s.instanceName, containerId: s.containerId }))
    },
  }
}
