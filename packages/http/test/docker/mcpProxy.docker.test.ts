import { execFileSync } from "node:child_process"
import { generateKeyPairSync, sign } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { ResourceListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { RELAYED_CLIENT_CAPABILITIES } from "@dtma/domain"
import { freePort, startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { ask, openSession } from "../support/grantsSupport.ts"
import { eventually, proxyClient, type ProxyClient } from "../support/mcpProxySupport.ts"

const EVERYTHING_IMAGE = "dtma/mcp-everything:2026.8.31"
const run = `px${Date.now().toString(36)}`
const NAME = `${run}-everything`
const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]?.text ?? ""
const byName = <T extends { name: string }>(items: ReadonlyArray<T>) => [...items].sort((a, b) => a.name.localeCompare(b.name))

/** An identity provider of the test's own: Ed25519 tokens, its public key in a JWKS file the DTMA is told of. */
const ISSUER = "https://agents.test.example"
const keys = generateKeyPairSync("ed25519")
const jwksFile = join(mkdtempSync(join(tmpdir(), "dtma-jwks-")), "jwks.json")
writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...keys.publicKey.export({ format: "jwk" }), kid: "px-1", alg: "EdDSA", use: "sig" }] }))
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
const agentToken = (audience: string, claims: Record<string, unknown>): string => {
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: "EdDSA", kid: "px-1", typ: "JWT" })}.${b64({ iss: ISSUER, aud: audience, iat: now, exp: now + 600, ...claims })}`
  return `${input}.${sign(null, Buffer.from(input), keys.privateKey).toString("base64url")}`
}

/**
 * A direct client declaring what the DTMA's upstream session declares (the capabilities it relays to
 * its clients): the server then lists what it lists the DTMA, the tools that ask a client included.
 */
const directStdioClient = async (): Promise<Client> => {
  const client = new Client({ name: "direct", version: "1.0.0" }, { capabilities: RELAYED_CLIENT_CAPABILITIES })
  await client.connect(new StdioClientTransport({ command: "docker", args: ["run", "-i", "--init", "--rm", "--label", `dtma.test=${run}`, EVERYTHING_IMAGE] }))
  return client
}

describe("the proxied MCP endpoint of a real DTMA, in front of server-everything over stdio", () => {
  let dtma: DtmaProcess
  let endpoint: string
  const clients: Array<ProxyClient> = []
  const connectAs = async (token: string) => {
    const c = await proxyClient(endpoint, token)
    clients.push(c)
    return c
  }
  const connect = () => connectAs(dtma.token!)

  beforeAll(async () => {
    // 1000 calls at once: room for them all (32 in flight, the rest queued) instead of 429s.
    const port = await freePort()
    dtma = await startDtma({
      port,
      env: {
        DTMA_MCP_MAX_QUEUED: "2000",
        DTMA_RESOURCE_URL: `http://127.0.0.1:${port}`,
        DTMA_AGENT_TOKEN_ISSUERS: JSON.stringify([{ issuer: ISSUER, jwksFile }]),
      },
    })
    const deployed = await dtma.call("POST", "/mcp-servers", {
      dockerImageUrl: EVERYTHING_IMAGE,
      instanceNameOnToolbox: NAME,
      accountToolInstanceId: `ati-${run}`,
      mcpTransportType: "stdio",
    })
    if (deployed.status !== 201) throw new Error(`deploying ${EVERYTHING_IMAGE} failed: ${deployed.status} ${JSON.stringify(deployed.body)}`)
    endpoint = `${dtma.url}/mcp-servers/${NAME}/mcp`
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.client.close()))
    await dtma?.call("DELETE", `/mcp-servers/${NAME}`)
    await dtma?.kill("SIGTERM")
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=dtma.test=${run}`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
    if (left.length > 0) execFileSync("docker", ["rm", "-f", ...left])
  })

  it("gives an SDK client the same tools and tool results as a direct stdio connection, with progress and list changes", async () => {
    const direct = await directStdioClient()
    const { client, streamOpen } = await connect()
    expect(client.getServerVersion()).toEqual(direct.getServerVersion())
    expect(client.getServerCapabilities()).toEqual(direct.getServerCapabilities())
    expect(client.getInstructions()).toEqual(direct.getInstructions())
    const [viaDtma, straight] = [(await client.listTools()).tools, (await direct.listTools()).tools]
    expect(byName(viaDtma)).toEqual(byName(straight))
    console.log(`tools/list: ${viaDtma.length} tools, the same through the DTMA as directly`)
    for (const call of [
      { name: "echo", arguments: { message: "hello through the DTMA" } },
      { name: "get-sum", arguments: { a: 19, b: 23 } },
    ]) {
      expect(await client.callTool(call)).toEqual(await direct.callTool(call))
    }
    expect(textOf(await client.callTool({ name: "get-sum", arguments: { a: 19, b: 23 } }))).toContain("42")

    const progress: Array<number> = []
    const done = await client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } }, undefined, {
      onprogress: (p) => void progress.push(p.progress),
    })
    expect(textOf(done)).toContain("Steps: 4")
    expect(progress).toEqual([1, 2, 3, 4])

    // server-everything has no tool that changes its tool list (it sends tools/list_changed once,
    // to the DTMA, right after initialize); registering a session resource changes the resource list.
    let changed = 0
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void changed++)
    await streamOpen
    const gzip = await client.callTool({
      name: "gzip-file-as-resource",
      arguments: { name: `${run}.txt.gz`, data: "data:text/plain;base64,aGVsbG8=", outputType: "resourceLink" },
    })
    expect(gzip.isError ?? false).toBe(false)
    await eventually(() => expect(changed).toBe(1))
    await direct.close()
  })

  it("answers 20 concurrent client sessions × 50 echo calls each, every one correctly and to the client that asked", async () => {
    const sessions = await Promise.all(Array.from({ length: 20 }, () => connect()))
    const started = Date.now()
    const answers = await Promise.all(
      sessions.map(({ client }, c) =>
        Promise.all(Array.from({ length: 50 }, (_, m) => client.callTool({ name: "echo", arguments: { message: `client ${c} message ${m}` } }).then(textOf))),
      ),
    )
    const ms = Date.now() - started
    let correct = 0
    for (const [c, texts] of answers.entries()) for (const [m, text] of texts.entries()) if (text === `Echo: client ${c} message ${m}`) correct++
    console.log(`20 sessions × 50 echo calls through one stdio server: ${correct}/1000 answered correctly, to the right client, in ${ms} ms`)
    expect(correct).toBe(1000)
  })

  it("answers an agent what its grants leave out exactly as server-everything answers what it does not have, and lists only what they grant", async () => {
    const grants = [{ server: NAME, tools: ["echo"], prompts: ["simple-prompt"], resources: false }]
    const agent = agentToken(dtma.url, { sub: "agent-px", jti: `${run}-1`, grants })
    const { client } = await connectAs(agent)
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo"])
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(["simple-prompt"])
    expect((await client.listResources()).resources).toEqual([])
    expect(textOf(await client.callTool({ name: "echo", arguments: { message: "granted" } }))).toBe("Echo: granted")

    const agentSession = await openSession(endpoint, agent)
    const operatorSession = await openSession(endpoint, dtma.token!)
    const cases: ReadonlyArray<readonly [string, (name: string) => Record<string, unknown>, string, string]> = [
      ["tools/call", (name) => ({ name, arguments: { a: 1, b: 2 } }), "get-sum", "no-such-tool"],
      ["prompts/get", (name) => ({ name, arguments: { city: "Paris" } }), "args-prompt", "no-such-prompt"],
      ["resources/read", (uri) => ({ uri }), "demo://resource/static/document/architecture.md", "demo://resource/static/document/no-such.md"],
      ["resources/read", (uri) => ({ uri }), "demo://resource/dynamic/text/1", "demo://no-such/1"],
      ["resources/subscribe", (uri) => ({ uri }), "demo://resource/static/document/architecture.md", "demo://no-such/2"],
      ["resources/unsubscribe", (uri) => ({ uri }), "demo://resource/static/document/architecture.md", "demo://no-such/2"],
      [
        "completion/complete",
        (name) => ({ ref: { type: "ref/prompt", name }, argument: { name: "department", value: "E" } }),
        "completable-prompt",
        "no-such-prompt",
      ],
      [
        "completion/complete",
        (uri) => ({ ref: { type: "ref/resource", uri }, argument: { name: "resourceId", value: "1" } }),
        "demo://resource/dynamic/text/{resourceId}",
        "demo://no-such/{resourceId}",
      ],
    ]
    for (const [method, params, present, absent] of cases) {
      const missing = await ask(endpoint, operatorSession, dtma.token!, method, params(absent))
      // What the DTMA answers itself for a name the agent may not use equals what server-everything answers for a name it does not have.
      expect([method, await ask(endpoint, agentSession, agent, method, params(absent))]).toEqual([method, missing])
      const ungranted = JSON.stringify(await ask(endpoint, agentSession, agent, method, params(present))).replaceAll(present, "<name>")
      expect([method, ungranted]).toEqual([method, JSON.stringify(missing).replaceAll(absent, "<name>")])
    }
  })
})
