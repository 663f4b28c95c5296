import { existsSync, mkdtempSync, rmSync } from "node:fs"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { deliveryPathsOf } from "@dtma/adapters"
import { startDtma, type DtmaProcess } from "./dtmaProcess.ts"
import { docker, mcpClient, removeContainersNamed, textOf } from "./mcpClient.ts"
import { startOAuthBackend, type BackendConnection, type MintedToken, type OAuthBackend } from "./oauthBackend.ts"

// A real DTMA wired to the OAuth backend double, for the `oauth*.docker.test.ts` files.

export const FILESYSTEM = "dtma/mcp-filesystem:2026.8.31"
export const EVERYTHING = "dtma/mcp-everything:2026.8.31"
export const CREDENTIALS_FIXTURE = "dtma/mcp-credentials:1"
export const OAUTH_PATH = "/get-mcp-oauth-credentials"

export interface RigOptions {
  readonly connections: Readonly<Record<string, BackendConnection>>
  /** Share a backend (and its record) instead of starting one. */
  readonly backend?: OAuthBackend
  /** What the DTMA presents to the backend; default the backend's own token. */
  readonly bearer?: string
  /** More DTMA settings. */
  readonly env?: Record<string, string>
}

/** One DTMA and its backend double; `call` keeps every API response body of the run. */
export interface OAuthRig {
  readonly backend: OAuthBackend
  dtma: DtmaProcess
  /** `DTMA_CREDENTIALS_DIR`, on /dev/shm (tmpfs), short enough for socket paths. */
  readonly credentialsDir: string
  /** Every response body `call` saw, as text. */
  readonly responses: Array<string>
  /** The DTMA's output of every process this rig started (a restart keeps the earlier ones). */
  readonly output: () => string
  // oxlint-disable-next-line typescript/no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** SIGKILLs the DTMA and starts it again: same scope, credential directory and backend. */
  restart(): Promise<void>
  /** Kills the DTMA, removes containers of `names`, the credential directory and the backend. */
  close(names: Iterable<string>): Promise<void>
}

const dtmaEnv = (backend: OAuthBackend, credentialsDir: string, bearer: string): Record<string, string> => ({
  AGENTOPIA_API_BASE_URL: backend.url,
  DTMA_BEARER_TOKEN: bearer,
  DTMA_CREDENTIALS_DIR: credentialsDir,
})

// One DTMA starts at a time: on two busy cores, several starting together can each miss /health.
let starting: Promise<unknown> = Promise.resolve()
const oneStartAtATime = <A>(start: () => Promise<A>): Promise<A> => {
  const next = starting.then(start, start)
  starting = next.catch(() => undefined)
  return next
}

export const startRig = async (options: RigOptions): Promise<OAuthRig> => {
  const backend = options.backend ?? (await startOAuthBackend({ connections: options.connections }))
  for (const [id, connection] of Object.entries(options.connections)) backend.connections.set(id, connection)
  const credentialsDir = mkdtempSync("/dev/shm/dtma-oa-")
  const env = { ...dtmaEnv(backend, credentialsDir, options.bearer ?? backend.token), ...options.env }
  const responses: Array<string> = []
  const earlier: Array<string> = []
  const rig: OAuthRig = {
    backend,
    dtma: await oneStartAtATime(() => startDtma({ env })),
    credentialsDir,
    responses,
    output: () => [...earlier, rig.dtma.output()].join("\n"),
    call: async (method, path, body) => {
      const res = await rig.dtma.call(method, path, body)
      responses.push(typeof res.body === "string" ? res.body : JSON.stringify(res.body))
      return res
    },
    restart: async () => {
      const { scope, stateDir } = rig.dtma
      await rig.dtma.kill("SIGKILL")
      earlier.push(rig.dtma.output())
      rig.dtma = await oneStartAtATime(() => startDtma({ env, scope, stateDir }))
    },
    close: async (names) => {
      await rig.dtma.kill("SIGKILL").catch(() => undefined)
      await removeContainersNamed(names)
      rmSync(credentialsDir, { recursive: true, force: true })
      rmSync(rig.dtma.stateDir, { recursive: true, force: true })
      if (options.backend === undefined) await backend.close()
    },
  }
  return rig
}

/** A stdio deploy body asking for OAuth connections. */
export const oauthDeploy = (
  name: string,
  image: string,
  connectionIds: ReadonlyArray<string>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  dockerImageUrl: image,
  instanceNameOnToolbox: name,
  accountToolInstanceId: `ati-${name}`,
  mcpTransportType: "stdio",
  agentId: "agent-e2e",
  oauthConnectionIds: connectionIds,
  ...extra,
})

/** Deploys and returns the 201's `data`; any other answer throws with the body. */
export const deployed = async (rig: OAuthRig, body: Record<string, unknown>): Promise<{ containerId: string }> => {
  const res = await rig.call("POST", "/mcp-servers", body)
  if (res.status !== 201)
    throw new Error(`deploying ${String(body["instanceNameOnToolbox"])} answered ${res.status}: ${JSON.stringify(res.body)}\n${rig.output().slice(-3000)}`)
  return res.body.data
}

export const clientOf = (rig: OAuthRig, name: string): Promise<Client> =>
  mcpClient(`${rig.dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`, rig.dtma.token!)

/** The tokens the backend minted for a connection, oldest first. */
export const mintedFor = (backend: OAuthBackend, connectionId: string): ReadonlyArray<MintedToken> =>
  backend.minted.filter((m) => m.connectionId === connectionId)

/** The OAuth credential requests the backend received for a connection (any outcome). */
export const requestsFor = (backend: OAuthBackend, connectionId: string) =>
  backend.requests.filter(
    (r) => r.path === OAUTH_PATH && ((r.body as { oauthConnectionIds?: ReadonlyArray<string> }).oauthConnectionIds ?? []).includes(connectionId),
  )

/** Calls a tool and returns its text, throwing on a tool error. */
export const toolText = async (client: Client, name: string, args: Record<string, unknown>): Promise<string> => {
  const result = await client.callTool({ name, arguments: args })
  if (result.isError === true) throw new Error(`${name} failed: ${textOf(result)}`)
  return textOf(result)
}

/** What `docker inspect` says of a container: its id, restart count, start time and labels. */
export const inspected = async (id: string) => {
  const [c] = JSON.parse(await docker("inspect", id)) as ReadonlyArray<{
    Id: string
    RestartCount: number
    State: { StartedAt: string; Running: boolean }
    Config: { Labels: Record<string, string> }
  }>
  return { id: c!.Id, restartCount: c!.RestartCount, startedAt: c!.State.StartedAt, running: c!.State.Running, labels: c!.Config.Labels }
}

/** Which of an instance's credential paths exist on the host (secrets dir, socket dir, index entry). */
export const leftovers = (rig: OAuthRig, name: string): ReadonlyArray<string> => {
  const paths = deliveryPathsOf(rig.credentialsDir, name)
  return [paths.secrets, paths.sockets, paths.index].filter((p) => existsSync(p))
}

/**
 * Polls `read` until it answers `wanted` (or anything but `not`); the unix ms it did. Throws with
 * the last answer after `timeoutMs`.
 */
export const readUntil = async (read: () => Promise<string>, wanted: (value: string) => boolean, timeoutMs: number): Promise<{ value: string; at: number }> => {
  const deadline = Date.now() + timeoutMs
  let last = ""
  for (;;) {
    last = await read().catch((e: unknown) => `(read failed: ${String(e)})`)
    if (wanted(last)) return { value: last, at: Date.now() }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms; last read: ${last.slice(0, 200)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Whether a JWT's `exp` is still ahead. */
export const unexpired = (jwt: string): boolean => {
  const payload = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: number }
  return payload.exp === undefined || payload.exp * 1000 > Date.now()
}

/** Containers the engine created for an instance between two instants (unix ms), from its event log. */
export const containersCreated = async (name: string, since: number, until: number): Promise<ReadonlyArray<string>> =>
  (
    await docker(
      "events",
      "--since",
      (since / 1000).toFixed(3),
      "--until",
      (until / 1000).toFixed(3),
      "--filter",
      "type=container",
      "--filter",
      "event=create",
      "--filter",
      `label=dtma.name=${name}`,
      "--format",
      "{{.ID}}",
    )
  )
    .split("\n")
    .filter(Boolean)
