import { expect } from "vitest"
import { containersNamed, docker, waitFor } from "./mcpClient.ts"
import {
  clientOf,
  CREDENTIALS_FIXTURE,
  deployed,
  FILESYSTEM,
  inspected,
  leftovers,
  mintedFor,
  oauthDeploy,
  readUntil,
  requestsFor,
  startRig,
  toolText,
  unexpired,
  type OAuthRig,
} from "./oauthRig.ts"

// A DTMA killed with SIGKILL never stored a token: the restarted one fetches the adopted server's
// tokens again, delivers them into the same container and keeps refreshing; what it delivered to
// servers that are gone meanwhile is wiped. Run by `oauthFaults.docker.test.ts`.

const TOKEN_FILE = "/run/secrets/dtma/github/access_token"

export interface RestartScenario {
  readonly rig: OAuthRig
  /** Instance names it deploys, for clean-up. */
  readonly names: ReadonlyArray<string>
  /** Runs the scenario's assertions; what it measured, a line each. */
  run(): Promise<ReadonlyArray<string>>
}

export const restartScenario = async (runId: string): Promise<RestartScenario> => {
  const keep = `${runId}-keep`
  const gone = `${runId}-gone`
  const connection = { keep: `gh-keep-${runId}`, gone: `gh-gone-${runId}` }
  const rig = await startRig({
    connections: {
      // Short-lived, so the restarted DTMA must go on refreshing it.
      [connection.keep]: { provider: "github", scopes: ["repo"], lifetimeSeconds: 20 },
      [connection.gone]: { provider: "github", scopes: ["repo"], lifetimeSeconds: 3600 },
    },
  })
  const minted = () => mintedFor(rig.backend, connection.keep)
  const readToken = async () => {
    const client = await clientOf(rig, keep)
    try {
      return await toolText(client, "read_text_file", { path: TOKEN_FILE })
    } finally {
      await client.close()
    }
  }

  const run = async (): Promise<ReadonlyArray<string>> => {
    const report: Array<string> = []
    const files = { baseConfigOverrideJson: { Cmd: ["/run/secrets/dtma"] } }
    const [kept] = await Promise.all([
      deployed(rig, oauthDeploy(keep, FILESYSTEM, [connection.keep], files)),
      deployed(rig, oauthDeploy(gone, CREDENTIALS_FIXTURE, [connection.gone], { credentialInjectionMethod: "runtime_api" })),
    ])
    const before = await inspected(kept.containerId)
    expect(minted().map((m) => m.token)).toContain(await readToken())

    await rig.dtma.kill("SIGKILL")
    // While no DTMA runs, a server goes away for good; its socket directory and index entry stay behind.
    await docker("rm", "-f", ...(await containersNamed(gone)).map((c) => c.id))
    expect(leftovers(rig, gone)).toHaveLength(2)
    const restartedAt = Date.now()
    await rig.restart()

    const refetch = await waitFor(
      "the restarted DTMA to ask the backend for the adopted server's tokens",
      async () => requestsFor(rig.backend, connection.keep).find((r) => r.at >= restartedAt),
      30_000,
    )
    report.push(`restart: backend asked again ${refetch.at - restartedAt} ms after the restart began`)
    await waitFor(
      "the adopted server to be healthy",
      async () => ((await rig.call("GET", `/mcp-servers/${keep}`)).body.data?.healthStatus === "healthy" ? true : undefined),
      30_000,
      100,
    )
    const afterRestart = await readUntil(readToken, (v) => minted().some((m) => m.at >= restartedAt && m.token === v), 20_000)
    expect(unexpired(afterRestart.value)).toBe(true)
    report.push(`restart: the adopted server read its re-fetched token ${afterRestart.at - restartedAt} ms after the restart began`)

    // Delivered into the very container the first DTMA started: no restart, no replacement.
    expect(await inspected(kept.containerId)).toEqual(before)
    const detail = (await rig.call("GET", `/mcp-servers/${keep}`)).body.data
    expect(detail.container.id).toBe(kept.containerId)
    expect(detail.oauth).toEqual([expect.objectContaining({ connectionId: connection.keep, status: expect.stringMatching(/^(valid|expiring)$/) })])

    await waitFor(`the leftovers of ${gone} to be wiped`, async () => (leftovers(rig, gone).length === 0 ? true : undefined), 10_000, 50)
    expect((await rig.call("GET", `/mcp-servers/${gone}`)).status).toBe(404)

    // The restarted DTMA keeps the schedule: the next renewal, before expiry, reaches the same container.
    const renewed = await readUntil(readToken, (v) => v !== afterRestart.value, 25_000)
    const renewal = minted().find((m) => m.token === renewed.value)
    const previous = minted().find((m) => m.token === afterRestart.value)
    expect(renewal).toBeDefined()
    expect(renewal!.at).toBeLessThan(previous!.expiresAt!)
    expect(await inspected(kept.containerId)).toEqual(before)
    report.push(`restart: the next scheduled renewal was read ${renewed.at - renewal!.at} ms after it was minted`)

    expect((await rig.call("DELETE", `/mcp-servers/${keep}`)).status).toBe(200)
    expect(leftovers(rig, keep)).toEqual([])
    return report
  }

  return { rig, names: [keep, gone], run }
}
