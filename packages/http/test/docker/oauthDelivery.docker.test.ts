import { readdirSync, type Dirent } from "node:fs"
import { join } from "node:path"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { dockerRootDir, scanDisk, scanMarker, sortHits, tokensInText, type DiskScan } from "../support/diskScan.ts"
import { containersNamed, docker, echoLoop, type CallLoop } from "../support/mcpClient.ts"
import {
  clientOf,
  containersCreated,
  CREDENTIALS_FIXTURE,
  deployed,
  EVERYTHING,
  FILESYSTEM,
  inspected,
  leftovers,
  mintedFor,
  oauthDeploy,
  readUntil,
  startRig,
  toolText,
  unexpired,
  type OAuthRig,
} from "../support/oauthRig.ts"

// Issue 4's end-to-end proof: real servers in real containers read the tokens the backend double
// minted, see scheduled and forced refreshes without a restart (files, socket) or a failed call
// (env_vars), and no token reaches a disk, a log, a label or an API answer: not even the tokens the
// test asks the servers to return in tool results, which a stdio server writes on its stdout (MCP
// servers run without a Docker log; the DTMA keeps their stderr in memory).

const RUN = `oa${Date.now().toString(36)}`
const NAME = { files: `${RUN}-files`, socket: `${RUN}-socket`, env: `${RUN}-env` } as const
type Method = keyof typeof NAME
const CONNECTION: Record<Method, string> = { files: `gh-files-${RUN}`, socket: `gh-socket-${RUN}`, env: `gh-env-${RUN}` }
/**
 * Short enough that on_expiry refreshes during the test (at 40% of the lifetime: 8 s, 12 s); longer
 * for env_vars, where each renewal replaces the container.
 */
const LIFETIME_SECONDS: Record<Method, number> = { files: 20, socket: 20, env: 30 }
const TOKEN_FILE = "/run/secrets/dtma/github/access_token"

let rig: OAuthRig
let marker: ReturnType<typeof scanMarker>
let dockerRoot = ""
let runStarted = 0
const clients = {} as Record<Method, Client>
const containerIds: Record<Method, Array<string>> = { files: [], socket: [], env: [] }
let envCalls: CallLoop | null = null
const report: Array<string> = []

/** The token each server read first. */
const firstRead: Record<Method, string> = { files: "", socket: "", env: "" }
const read: Record<Method, (client: Client) => Promise<string>> = {
  files: (client) => toolText(client, "read_text_file", { path: TOKEN_FILE }),
  socket: async (client) => (JSON.parse(await toolText(client, "read-socket-credentials", { provider: "github" })) as { access_token: string }).access_token,
  env: async (client) => (await envOf(client))["GITHUB_TOKEN"] ?? "",
}
const envOf = async (client: Client): Promise<Record<string, string>> => JSON.parse(await toolText(client, "get-env", {})) as Record<string, string>
const minted = (method: Method) => mintedFor(rig.backend, CONNECTION[method]).map((m) => m.token)
const tokensOf = (methods: ReadonlyArray<Method>) => methods.flatMap(minted)
const filesUnder = (dir: string): ReadonlyArray<string> =>
  (readdirSync(dir, { recursive: true, withFileTypes: true }) as ReadonlyArray<Dirent>).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name))
const currentContainer = async (method: Method): Promise<string> => (await rig.call("GET", `/mcp-servers/${NAME[method]}`)).body.data.container.id

beforeAll(async () => {
  marker = scanMarker()
  runStarted = Date.now()
  dockerRoot = await dockerRootDir()
  rig = await startRig({
    connections: Object.fromEntries(
      (["files", "socket", "env"] as const).map((m) => [CONNECTION[m], { provider: "github", scopes: ["repo"], lifetimeSeconds: LIFETIME_SECONDS[m] }]),
    ),
    // Heartbeats carry OAuth states: their bodies are scanned too.
    env: { DTMA_HEARTBEAT_INTERVAL_MS: "2000" },
  })
}, 30_000)

afterAll(async () => {
  await envCalls?.stop()
  await Promise.all(Object.values(clients).map((c) => c.close().catch(() => undefined)))
  await rig?.close(Object.values(NAME))
  marker?.remove()
  console.log(`oauth delivery (${RUN}):\n  ${report.join("\n  ")}`)
})

/** The places that must never hold a token: disk under Docker's roots and the DTMA's state, its log, every API answer, heartbeats. */
const scanEverything = async (tokens: ReadonlyArray<string>, full: boolean): Promise<DiskScan> => {
  const roots = [dockerRoot, "/run/docker", "/run/containerd", rig.dtma.stateDir]
  return scanDisk(roots, tokens, full ? { maxBytes: Number.POSITIVE_INFINITY } : { changedSince: marker.path })
}

const describeScan = (label: string, scan: DiskScan) =>
  `${label}: ${scan.files} files, ${(scan.bytes / 1e6).toFixed(0)} MB on ${scan.roots.map((r) => `${r.root} (${r.filesystem})`).join(", ")}; ` +
  `${scan.tooLarge.length} over 50 MiB skipped; ${scan.hits.length} files with a token`

/** Texts the DTMA produced: its log, every management API answer, every heartbeat body it sent. */
const textsOfRun = () => [
  { what: "DTMA log", text: rig.output() },
  ...rig.responses.map((text, i) => ({ what: `API response ${i}`, text })),
  ...rig.backend.requests
    .filter((r) => !r.path.startsWith("/get-mcp-oauth"))
    .map((r, i) => ({ what: `backend request ${i} ${r.path}`, text: JSON.stringify(r.body) })),
]

/** Asks every read-only endpoint once, so their answers are part of what is scanned. */
const askEverything = async () => {
  for (const path of ["/mcp-servers", "/mcp-servers/discovery", "/status", "/tools/status", "/metrics"]) await rig.call("GET", path)
  for (const name of Object.values(NAME)) {
    await rig.call("GET", `/mcp-servers/${name}`)
    await rig.call("GET", `/mcp-servers/${name}/logs?tail=200`)
  }
}

/** Whose token this is, among the servers of the run. */
const ownerOf = (token: string): Method | undefined => (["files", "socket", "env"] as const).find((m) => minted(m).includes(token))

/** No `mounted_secrets` or `runtime_api` token anywhere, even after their servers printed them; `env_vars` tokens only in Docker's records. */
const expectNothingLeaked = async (label: string, full: boolean) => {
  await askEverything()
  const tokens = tokensOf(["files", "socket", "env"])
  const scan = await scanEverything(tokens, full)
  report.push(describeScan(label, scan))
  const sorted = sortHits(
    scan.hits.map((h) => ({ path: h.path, tokens: h.tokens.map((i) => tokens[i]!) })),
    {
      ownerOf,
      envMethod: "env",
      dockerRecords: [`${dockerRoot}/containers/`, `${dockerRoot}/containerd/`, "/run/docker/"],
    },
  )
  const short = (p: string) => p.replace(dockerRoot, "<data-root>")
  report.push(`${label}: env_vars tokens in ${sorted.envRecords.map(short).join(", ") || "no file"}`)
  expect(sorted.leaks).toEqual([])
  expect(
    textsOfRun()
      .filter(({ text }) => tokensInText(text, tokens).length > 0)
      .map(({ what }) => what),
  ).toEqual([])
  const inspections = await Promise.all(
    [...containerIds.files, ...containerIds.socket].map(async (id) => ({ id, text: await docker("inspect", id).catch(() => "") })),
  )
  expect(inspections.filter(({ text }) => tokensInText(text, tokens).length > 0).map(({ id }) => id)).toEqual([])
  return sorted
}

describe("OAuth credentials delivered to real MCP servers", () => {
  it("deploys a server per injection method, each reading the token the backend minted for it", async () => {
    const cmd = { baseConfigOverrideJson: { Cmd: ["/run/secrets/dtma"] } }
    const [files, socket, env] = await Promise.all([
      deployed(rig, oauthDeploy(NAME.files, FILESYSTEM, [CONNECTION.files], cmd)),
      deployed(rig, oauthDeploy(NAME.socket, CREDENTIALS_FIXTURE, [CONNECTION.socket], { credentialInjectionMethod: "runtime_api" })),
      deployed(rig, oauthDeploy(NAME.env, EVERYTHING, [CONNECTION.env], { credentialInjectionMethod: "env_vars" })),
    ])
    containerIds.files.push(files.containerId)
    containerIds.socket.push(socket.containerId)
    containerIds.env.push(env.containerId)
    for (const method of ["files", "socket", "env"] as const) clients[method] = await clientOf(rig, NAME[method])

    for (const method of ["files", "socket", "env"] as const) {
      firstRead[method] = await read[method](clients[method])
      expect(minted(method)).toContain(firstRead[method])
      expect(unexpired(firstRead[method])).toBe(true)
    }
    const token = firstRead.files
    expect(await toolText(clients.files, "read_text_file", { path: `/run/secrets/dtma/connections/${CONNECTION.files}/access_token` })).toBe(token)
    const document = JSON.parse(await toolText(clients.files, "read_text_file", { path: "/run/secrets/dtma/github/token.json" })) as Record<string, unknown>
    expect(document).toMatchObject({ connection_id: CONNECTION.files, provider: "github", access_token: token, token_type: "Bearer", scopes: ["repo"] })
    const env0 = await envOf(clients.env)
    const envToken = firstRead.env
    const keys = ["OAUTH_GITHUB_ACCESS_TOKEN", "GITHUB_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "GH_TOKEN"]
    expect(Object.fromEntries(keys.map((k) => [k, env0[k]]))).toEqual(Object.fromEntries(keys.map((k) => [k, envToken])))
    expect(env0["OAUTH_GITHUB_SCOPES"]).toBe("repo")

    const detail = async (method: Method) => (await rig.call("GET", `/mcp-servers/${NAME[method]}`)).body.data
    expect((await detail("env")).credentials).toMatchObject({ injectionMethod: "env_vars", persistedByDocker: true })
    expect((await detail("files")).credentials).toMatchObject({ injectionMethod: "mounted_secrets", persistedByDocker: false })
    expect((await detail("socket")).credentials).toMatchObject({ injectionMethod: "runtime_api", persistedByDocker: false })
    expect((await detail("files")).oauth).toEqual([
      expect.objectContaining({ connectionId: CONNECTION.files, provider: "github", status: expect.stringMatching(/^(valid|expiring)$/) }),
    ])
    // A client calls echo on the env_vars server from now until its token has been replaced twice.
    envCalls = echoLoop(await clientOf(rig, NAME.env), "throughout")
  }, 60_000)

  it("leaves no token on disk (printed ones too), in logs, API answers, labels or inspect after deploy; env_vars ones only in Docker's records", async () => {
    const { envRecords } = await expectNothingLeaked("scan after deploy", false)
    expect(envRecords).toContain(`${dockerRoot}/containers/${containerIds.env[0]}/config.v2.json`)
    for (const method of ["files", "socket", "env"] as const) {
      const { labels } = await inspected(containerIds[method][0]!)
      expect(tokensInText(JSON.stringify(labels), tokensOf(["files", "socket", "env"])), `labels of ${method}`).toEqual([])
    }
  }, 60_000)

  describe("a scheduled refresh before expiry", { concurrent: true }, () => {
    for (const method of ["files", "socket"] as const) {
      it(`reaches the ${method === "files" ? "mounted_secrets files" : "runtime_api socket"} in the same container, without a restart`, async () => {
        const before = await inspected(containerIds[method][0]!)
        const first = firstRead[method]
        const seen = await readUntil(
          () => read[method](clients[method]),
          (v) => v !== first,
          20_000,
        )
        const original = mintedFor(rig.backend, CONNECTION[method]).find((m) => m.token === first)
        const renewal = mintedFor(rig.backend, CONNECTION[method]).find((m) => m.token === seen.value)
        expect(renewal, "the new token is one the backend minted").toBeDefined()
        expect(renewal!.at, "refreshed before the first token expired").toBeLessThan(original!.expiresAt!)
        expect(unexpired(seen.value)).toBe(true)
        report.push(
          `${method}: scheduled refresh ${((renewal!.at - original!.at) / 1000).toFixed(1)} s after the first token; ` +
            `read by the server ${seen.at - renewal!.at} ms after the backend minted it`,
        )
        const after = await inspected(containerIds[method][0]!)
        expect(after).toEqual({ ...before, running: true })
        expect(await currentContainer(method)).toBe(before.id)
      }, 40_000)
    }

    it("reaches the env_vars server in a replacement container, with no failed call", async () => {
      const first = firstRead.env
      const seen = await readUntil(
        () => read.env(clients.env),
        (v) => v !== first && v !== "",
        30_000,
      )
      const original = mintedFor(rig.backend, CONNECTION.env).find((m) => m.token === first)
      const renewal = mintedFor(rig.backend, CONNECTION.env).find((m) => m.token === seen.value)
      expect(renewal).toBeDefined()
      expect(renewal!.at, "refreshed before the first token expired").toBeLessThan(original!.expiresAt!)
      expect(unexpired(seen.value)).toBe(true)
      report.push(`env: scheduled refresh read by the server ${seen.at - renewal!.at} ms after the backend minted it (a container replacement)`)
      const id = await currentContainer("env")
      expect(id).not.toBe(containerIds.env[0])
      containerIds.env.push(id)
      expect({ failed: envCalls!.tally.failed, errors: envCalls!.tally.errors }).toEqual({ failed: 0, errors: [] })
    }, 40_000)
  })

  it("POST /oauth/refresh answers once the new token is delivered, for each method", async () => {
    for (const method of ["files", "socket", "env"] as const) {
      const asked = Date.now()
      const res = await rig.call("POST", `/mcp-servers/${NAME[method]}/oauth/refresh`)
      expect(res.status).toBe(200)
      expect(res.body.data).toEqual({
        instanceName: NAME[method],
        connections: [
          {
            connectionId: CONNECTION[method],
            provider: "github",
            status: expect.stringMatching(/^(valid|expiring)$/),
            expiresAt: expect.any(String),
            refreshedAt: expect.any(String),
          },
        ],
      })
      const fresh = mintedFor(rig.backend, CONNECTION[method])
        .filter((m) => m.at >= asked)
        .map((m) => m.token)
      expect(fresh.length).toBeGreaterThan(0)
      const value = await read[method](clients[method])
      expect(fresh, `${method} reads a token minted by this refresh right after the 200`).toContain(value)
      report.push(`${method}: POST /oauth/refresh answered in ${Date.now() - asked} ms (read included)`)
    }
    const id = await currentContainer("env")
    expect(containerIds.env).not.toContain(id)
    containerIds.env.push(id)
    for (const method of ["files", "socket"] as const) expect(await currentContainer(method)).toBe(containerIds[method][0])
    const calls = await envCalls!.stop()
    envCalls = null
    report.push(`env: ${calls.ok} echo calls during ${containerIds.env.length - 1} container replacements, ${calls.failed} failed`)
    expect({ failed: calls.failed, errors: calls.errors }).toEqual({ failed: 0, errors: [] })
    expect(calls.ok).toBeGreaterThan(0)
    expect(await envOf(clients.env)).toMatchObject({ OAUTH_GITHUB_ACCESS_TOKEN: await read.env(clients.env) })
  }, 60_000)

  it("leaves no token on disk (not even those the servers printed), in logs, API answers, heartbeats or docker inspect after the refreshes", async () => {
    // The heartbeats scanned carry the servers' OAuth states.
    const heartbeats = rig.backend.requests.filter((r) => r.path === "/heartbeat")
    expect(heartbeats.length).toBeGreaterThan(0)
    expect(JSON.stringify(heartbeats.at(-1)!.body)).toContain(CONNECTION.files)
    const { envRecords } = await expectNothingLeaked("scan after refresh", false)
    expect(envRecords).toContain(`${dockerRoot}/containers/${containerIds.env.at(-1)}/config.v2.json`)
  }, 60_000)

  it("removal wipes each server's credential directory and socket, and its containers", async () => {
    expect(leftovers(rig, NAME.files).length).toBe(2)
    expect(leftovers(rig, NAME.socket).length).toBe(2)
    expect(leftovers(rig, NAME.env)).toEqual([])
    for (const method of ["files", "socket", "env"] as const) {
      await clients[method].close()
      const res = await rig.call("DELETE", `/mcp-servers/${NAME[method]}`)
      expect(res.status).toBe(200)
      expect(leftovers(rig, NAME[method])).toEqual([])
      expect(await containersNamed(NAME[method])).toEqual([])
    }
    expect(filesUnder(rig.credentialsDir)).toEqual([])
    // Files and socket: one container all along. env_vars: one per token at most (the first, then one
    // replacement per renewal; renewals close together may share one), never two for one renewal.
    const created = async (method: Method) => (await containersCreated(NAME[method], runStarted, Date.now() + 500)).length
    expect(await created("files")).toBe(1)
    expect(await created("socket")).toBe(1)
    const envCreated = await created("env")
    report.push(`env: ${envCreated} containers for ${minted("env").length} tokens`)
    expect(envCreated).toBeGreaterThanOrEqual(3)
    expect(envCreated).toBeLessThanOrEqual(minted("env").length)
  }, 60_000)

  it("leaves no token of a mounted_secrets or runtime_api server anywhere after removal, in a scan of every file", async () => {
    const { envRecords } = await expectNothingLeaked("full scan after removal", true)
    // The servers are gone, and with them their container records.
    expect(envRecords.filter((p) => p.startsWith(`${dockerRoot}/containers/`))).toEqual([])
    report.push(`tokens minted: ${rig.backend.minted.length}; backend requests: ${rig.backend.requests.length}; API responses scanned: ${rig.responses.length}`)
  }, 120_000)
})
