import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { socketDocumentOf, tokenDocumentOf, type DeliveryMount, type OAuthCredential } from "@dtma/domain"
import { run } from "@dtma/testing"
import { makeTmpfsCredentialDelivery } from "../../src/credentials/TmpfsCredentialDelivery.ts"
import { removeRoot, shmRoot } from "./hostView.ts"
import { docker, removeAll, runPrefix } from "../mcp/mcpContainers.ts"

/** Built by scripts/build-images.sh. */
const IMAGE = "dtma/mcp-credentials:1"
const RUN = runPrefix("delivery")
const owner = { uid: 1000, gid: 1000 }
const credential = (connectionId: string, provider: string, token: string): OAuthCredential => ({
  connectionId,
  provider,
  accessToken: Redacted.make(token),
  tokenType: "Bearer",
  expiresAt: Date.parse("2030-01-01T00:00:00Z"),
  scopes: ["repo"],
})
const gh = credential("gh-1", "github", `tok-gh-${RUN}`)
const slack = credential("sl-1", "slack", `tok-sl-${RUN}`)

/** The fixture server in a locked-down container, the delivery's directories mounted read-only, over `docker run -i`. */
const startFixture = async (suffix: string, mounts: ReadonlyArray<DeliveryMount>, user = "1000:1000"): Promise<Client> => {
  const args = ["run", "--rm", "-i", "--init", "--name", `${RUN}-${suffix}`, "--network", "none", "--read-only", "--cap-drop", "ALL"]
  args.push("--security-opt", "no-new-privileges", "--user", user, "-e", "DTMA_CREDENTIALS_SOCKET=/run/dtma/credentials.sock")
  for (const m of mounts) args.push("--mount", `type=bind,source=${m.hostPath},target=${m.containerPath},readonly`)
  const transport = new StdioClientTransport({ command: "docker", args: [...args, IMAGE], env: { ...process.env } as Record<string, string>, stderr: "ignore" })
  const client = new Client({ name: "delivery-test", version: "1.0.0" })
  await client.connect(transport, { timeout: 30_000 })
  return client
}

const call = async (client: Client, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }> => {
  const result = await client.callTool({ name, arguments: args })
  const content = result.content as ReadonlyArray<{ type: string; text?: string }>
  return { text: content.map((c) => c.text ?? "").join(""), isError: result.isError === true }
}

describe("credentials delivered from a tmpfs to a real container", () => {
  let root = ""
  const delivery = { current: null as ReturnType<typeof makeTmpfsCredentialDelivery> | null }
  const clients: Array<Client> = []
  const mountsOf: Record<string, ReadonlyArray<DeliveryMount>> = {}

  beforeAll(async () => {
    root = await shmRoot()
    delivery.current = makeTmpfsCredentialDelivery({ root })
    mountsOf["files"] = await run(delivery.current.provision({ name: `${RUN} files`, method: "mounted_secrets", owner, credentials: [gh, slack] }))
    mountsOf["socket"] = await run(delivery.current.provision({ name: `${RUN} socket`, method: "runtime_api", owner, credentials: [gh, slack] }))
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await removeAll(RUN)
    if (delivery.current !== null) {
      for (const name of await run(delivery.current.provisioned())) await run(delivery.current.wipe(name))
      await Effect.runPromise(delivery.current.close())
    }
    await removeRoot(root)
  })

  it("shows mounted_secrets files read-only to the container's user, and a published token without a restart", async () => {
    const client = await startFixture("files", mountsOf["files"]!)
    clients.push(client)
    expect(await call(client, "read-file", { path: "/run/secrets/dtma/github/access_token" })).toEqual({ text: Redacted.value(gh.accessToken), isError: false })
    const json = await call(client, "read-file", { path: "/run/secrets/dtma/connections/sl-1/token.json" })
    expect(JSON.parse(json.text)).toEqual(tokenDocumentOf(slack))
    const { Mounts } = await docker.getContainer(`${RUN}-files`).inspect()
    expect(Mounts.map((m) => [m.Destination, m.RW])).toEqual([["/run/secrets/dtma", false]])

    await run(delivery.current!.publish(`${RUN} files`, [credential("gh-1", "github", `tok-gh-renewed-${RUN}`)]))
    expect(await call(client, "read-file", { path: "/run/secrets/dtma/github/access_token" })).toEqual({ text: `tok-gh-renewed-${RUN}`, isError: false })
    expect((await call(client, "read-file", { path: "/run/secrets/dtma/slack/access_token" })).text).toContain("ENOENT")
  })

  it("answers runtime_api requests on the socket inside the container, and the next read after a publish gets the new token", async () => {
    const client = await startFixture("socket", mountsOf["socket"]!)
    clients.push(client)
    const all = await call(client, "read-socket-credentials", {})
    expect([all.isError, JSON.parse(all.text)]).toEqual([false, JSON.parse(JSON.stringify(socketDocumentOf([gh, slack])))])
    const one = await call(client, "read-socket-credentials", { provider: "slack" })
    expect(JSON.parse(one.text)).toEqual(tokenDocumentOf(slack))
    expect(await call(client, "read-socket-credentials", { provider: "dropbox" })).toMatchObject({ isError: true, text: expect.stringContaining("404") })
    expect((await call(client, "read-file", { path: "/run/secrets/dtma/github/access_token" })).isError).toBe(true)

    await run(delivery.current!.publish(`${RUN} socket`, [credential("gh-1", "github", `tok-gh-renewed-${RUN}`)]))
    const renewed = await call(client, "read-socket-credentials", { provider: "github" })
    expect(JSON.parse(renewed.text)).toMatchObject({ access_token: `tok-gh-renewed-${RUN}` })
  })

  it("keeps files and socket from any other user in a container", async () => {
    const client = await startFixture("stranger", [...mountsOf["files"]!, ...mountsOf["socket"]!], "2000:2000")
    clients.push(client)
    expect(await call(client, "read-file", { path: "/run/secrets/dtma/github/access_token" })).toMatchObject({
      isError: true,
      text: expect.stringContaining("EACCES"),
    })
    expect(await call(client, "read-socket-credentials", {})).toMatchObject({ isError: true, text: expect.stringContaining("EACCES") })
  })
})
