import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { SECRETS_DIR, SOCKET_DIR, tokenDocumentOf, type CredentialDelivery, type OAuthCredential } from "@dtma/domain"
import type { DeliveredView } from "../DeliveredView.ts"
import { failureOf, run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** A credential delivery under test, and a way to look at it from inside a container. */
export interface CredentialDeliverySubject {
  readonly delivery: CredentialDelivery
  /** What the container of `name` sees now: for a real adapter, its files and socket on the host. */
  see(name: string): Promise<DeliveredView>
  readonly cleanup?: () => Promise<void>
}

const owner = { uid: 1000, gid: 1000 }
const credential = (connectionId: string, provider: string, token: string): OAuthCredential => ({
  connectionId,
  provider,
  accessToken: Redacted.make(token),
  tokenType: "Bearer",
  expiresAt: Date.parse("2030-01-01T00:00:00Z"),
  scopes: ["read", "write"],
})
const gh1 = credential("gh-1", "github", "tok-gh-1-aaa")
const gh2 = credential("gh-2", "github", "tok-gh-2-bbb")
const slack = credential("sl-1", "slack", "tok-sl-1-ccc")

/** Behaviour every CredentialDelivery must have; run on the fake and on the tmpfs adapter. */
export const credentialDeliveryContract = (label: string, setup: () => Promise<CredentialDeliverySubject>): void => {
  describe(`CredentialDelivery contract: ${label}`, () => {
    const withSubject = freshSubject(setup)
    const files = (s: CredentialDeliverySubject, name: string) => s.see(name).then((v) => v.files)
    const get = async (s: CredentialDeliverySubject, name: string, path: string, method?: string) => {
      const { socket } = await s.see(name)
      if (socket === null) throw new Error(`no socket for ${name}`)
      return socket(path, method)
    }

    it(
      "lays out mounted_secrets as files per provider (its first connection) and per connection, mounted at /run/secrets/dtma",
      withSubject(async (s) => {
        const mounts = await run(s.delivery.provision({ name: "files one", method: "mounted_secrets", owner, credentials: [gh1, gh2, slack] }))
        expect(mounts).toEqual([{ hostPath: expect.any(String), containerPath: SECRETS_DIR }])
        const seen = await files(s, "files one")
        const dirs = ["github", "slack", "connections/gh-1", "connections/gh-2", "connections/sl-1"]
        expect(Object.keys(seen).sort()).toEqual(dirs.flatMap((d) => [`${d}/access_token`, `${d}/token.json`]).sort())
        expect(seen["github/access_token"]).toBe("tok-gh-1-aaa")
        expect(seen["connections/gh-2/access_token"]).toBe("tok-gh-2-bbb")
        expect(JSON.parse(seen["slack/token.json"]!)).toEqual(tokenDocumentOf(slack))
        expect((await s.see("files one")).socket).toBeNull()
      }),
    )

    it(
      "serves runtime_api on a socket mounted at /run/dtma: every credential, one provider's, 404 and 405",
      withSubject(async (s) => {
        const mounts = await run(s.delivery.provision({ name: "socket one", method: "runtime_api", owner, credentials: [gh1, gh2, slack] }))
        expect(mounts).toEqual([{ hostPath: expect.any(String), containerPath: SOCKET_DIR }])
        expect(await get(s, "socket one", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [gh1, gh2, slack].map(tokenDocumentOf) } })
        expect(await get(s, "socket one", "/v1/credentials/github")).toEqual({ status: 200, body: tokenDocumentOf(gh1) })
        expect(await get(s, "socket one", "/v1/credentials/dropbox")).toMatchObject({ status: 404, body: { error: "not_found" } })
        expect(await get(s, "socket one", "/v2/anything")).toMatchObject({ status: 404 })
        expect(await get(s, "socket one", "/v1/credentials", "POST")).toMatchObject({ status: 405 })
        expect(Object.keys((await s.see("socket one")).files)).toEqual([])
      }),
    )

    it(
      "publishes new tokens as files the next read sees, and removes a dropped connection's files",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "files two", method: "mounted_secrets", owner, credentials: [gh1, slack] }))
        await run(s.delivery.publish("files two", [credential("gh-1", "github", "tok-gh-1-renewed")]))
        const seen = await files(s, "files two")
        expect(seen["github/access_token"]).toBe("tok-gh-1-renewed")
        expect(seen["connections/gh-1/access_token"]).toBe("tok-gh-1-renewed")
        expect(Object.keys(seen).filter((f) => f.startsWith("slack/") || f.startsWith("connections/sl-1/"))).toEqual([])
      }),
    )

    it(
      "publishes new tokens to the socket: the next request answers them",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "socket two", method: "runtime_api", owner, credentials: [gh1] }))
        await run(s.delivery.publish("socket two", [credential("gh-1", "github", "tok-gh-1-renewed")]))
        const reply = await get(s, "socket two", "/v1/credentials/github")
        expect(reply.body).toMatchObject({ access_token: "tok-gh-1-renewed", connection_id: "gh-1" })
      }),
    )

    it(
      "serves each instance only its own credentials",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "mine", method: "runtime_api", owner, credentials: [gh1] }))
        await run(s.delivery.provision({ name: "theirs", method: "runtime_api", owner, credentials: [slack] }))
        await run(s.delivery.provision({ name: "files", method: "mounted_secrets", owner, credentials: [gh2] }))
        expect(await get(s, "mine", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [tokenDocumentOf(gh1)] } })
        expect(await get(s, "theirs", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [tokenDocumentOf(slack)] } })
        expect(await get(s, "mine", "/v1/credentials/slack")).toMatchObject({ status: 404 })
        expect(Object.values(await files(s, "files")).join("\n")).not.toMatch(/tok-gh-1|tok-sl-1/)
      }),
    )

    it(
      "refuses to publish to an instance never provisioned, or wiped, as not_provisioned",
      withSubject(async (s) => {
        expect(await failureOf(s.delivery.publish("never", [gh1]))).toMatchObject({
          _tag: "CredentialDeliveryFailed",
          reason: "not_provisioned",
          name: "never",
        })
        await run(s.delivery.provision({ name: "gone", method: "mounted_secrets", owner, credentials: [gh1] }))
        await run(s.delivery.wipe("gone"))
        expect(await failureOf(s.delivery.publish("gone", [gh1]))).toMatchObject({ reason: "not_provisioned" })
      }),
    )

    it(
      "refuses provider or connection ids that cannot name a directory as unsafe_name, delivering nothing, naming no token",
      withSubject(async (s) => {
        for (const bad of [
          credential("../escape", "github", "tok-bad-1"),
          credential("c1", "a/b", "tok-bad-2"),
          credential("c2", "..", "tok-bad-3"),
          credential("c3", "connections", "tok-bad-4"),
        ]) {
          const error = await failureOf(s.delivery.provision({ name: "unsafe", method: "mounted_secrets", owner, credentials: [gh1, bad] }))
          expect(error).toMatchObject({ reason: "unsafe_name", name: "unsafe" })
          expect(`${error.message} ${JSON.stringify(error)}`).not.toMatch(/tok-/)
        }
        expect(await s.see("unsafe")).toMatchObject({ files: {}, socket: null })
        await run(s.delivery.provision({ name: "safe", method: "mounted_secrets", owner, credentials: [gh1] }))
        expect(await failureOf(s.delivery.publish("safe", [credential("x y", "github", "tok-bad")]))).toMatchObject({ reason: "unsafe_name" })
        expect((await files(s, "safe"))["github/access_token"]).toBe("tok-gh-1-aaa")
      }),
    )

    it(
      "provisions again by replacing what the instance had, even with the other method",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "again", method: "mounted_secrets", owner, credentials: [gh1, slack] }))
        await run(s.delivery.provision({ name: "again", method: "mounted_secrets", owner, credentials: [gh2] }))
        expect(Object.keys(await files(s, "again")).sort()).toEqual([
          "connections/gh-2/access_token",
          "connections/gh-2/token.json",
          "github/access_token",
          "github/token.json",
        ])
        await run(s.delivery.provision({ name: "again", method: "runtime_api", owner, credentials: [slack] }))
        expect(Object.keys(await files(s, "again"))).toEqual([])
        expect(await get(s, "again", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [tokenDocumentOf(slack)] } })
        await run(s.delivery.provision({ name: "again", method: "runtime_api", owner, credentials: [gh1] }))
        expect(await get(s, "again", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [tokenDocumentOf(gh1)] } })
        expect(await run(s.delivery.provisioned())).toEqual(["again"])
      }),
    )

    it(
      "wipes an instance's files and socket, idempotently, and wipes an unknown instance without failing",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "w files", method: "mounted_secrets", owner, credentials: [gh1] }))
        await run(s.delivery.provision({ name: "w socket", method: "runtime_api", owner, credentials: [gh1] }))
        for (const name of ["w files", "w socket"]) {
          await run(s.delivery.wipe(name))
          await run(s.delivery.wipe(name))
          expect(await s.see(name)).toMatchObject({ files: {}, socket: null })
        }
        await run(s.delivery.wipe("never provisioned"))
        expect(await run(s.delivery.provisioned())).toEqual([])
      }),
    )

    it(
      "lists the instances it delivers to, whatever their names hold",
      withSubject(async (s) => {
        const names = ["plain", "with spaces", "../dots/and slashes", "ünïcödé"]
        for (const name of names) await run(s.delivery.provision({ name, method: "mounted_secrets", owner, credentials: [gh1] }))
        expect([...(await run(s.delivery.provisioned()))].sort()).toEqual([...names].sort())
        for (const name of names) expect((await files(s, name))["github/access_token"]).toBe("tok-gh-1-aaa")
      }),
    )

    it(
      "delivers an empty credential list as no files and an empty socket document",
      withSubject(async (s) => {
        await run(s.delivery.provision({ name: "empty files", method: "mounted_secrets", owner, credentials: [] }))
        await run(s.delivery.provision({ name: "empty socket", method: "runtime_api", owner, credentials: [] }))
        expect(await files(s, "empty files")).toEqual({})
        expect(await get(s, "empty socket", "/v1/credentials")).toEqual({ status: 200, body: { credentials: [] } })
      }),
    )
  })
}
