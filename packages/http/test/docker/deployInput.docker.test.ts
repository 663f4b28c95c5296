import { execFile, execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"
import { Result } from "effect"
import fc from "fast-check"
import { formatContainerUser, mcpServerUser, parseContainerUser, rootProblemOf, type ContainerUser } from "@dtma/domain"
import { arbUserSpelling } from "@dtma/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"

const run = promisify(execFile)
const NODE_BASE = "dtma/node-base:24"
const EVERYTHING = "dtma/mcp-everything:2026.8.31"

/** The Uid, Gid and Groups lines of a status file: the kernel's view of a process's credentials. */
interface Credentials {
  readonly uids: ReadonlyArray<number>
  readonly gids: ReadonlyArray<number>
  readonly groups: ReadonlyArray<number>
}

const credentialsIn = (status: string): Credentials => {
  const numbers = (name: string) =>
    (status.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "")
      .slice(name.length + 1)
      .trim()
      .split(/\s+/)
      .filter((n) => n !== "")
      .map(Number)
  return { uids: numbers("Uid"), gids: numbers("Gid"), groups: numbers("Groups") }
}

const PRINT_STATUS = 'process.stdout.write(require("fs").readFileSync("/proc/self/status", "utf8"))'

/** How a real container started with `--user <spelling>` runs, or null when Docker refuses the spelling. */
const kernelView = async (spelling: string): Promise<Credentials | null> => {
  try {
    const { stdout } = await run("docker", ["run", "--rm", "--network", "none", "--user", spelling, NODE_BASE, "node", "-e", PRINT_STATUS], { timeout: 60_000 })
    return credentialsIn(stdout)
  } catch {
    return null
  }
}

type Verdict =
  | { readonly kind: "malformed" }
  | { readonly kind: "refused"; readonly user: ContainerUser }
  | { readonly kind: "allowed"; readonly user: ContainerUser }

/** What the DTMA decides for an MCP server's `User`: refused, or the user it runs the server as. */
const verdictOf = (spelling: string): Verdict => {
  const parsed = parseContainerUser(spelling)
  if (Result.isFailure(parsed)) return { kind: "malformed" }
  return rootProblemOf(parsed.success) === null ? { kind: "allowed", user: mcpServerUser(parsed.success) } : { kind: "refused", user: parsed.success }
}

/** Docker runs what the DTMA allows as the DTMA spells it, and the rest as given (to show what would have run). */
const deployedSpelling = (spelling: string): string => {
  const verdict = verdictOf(spelling)
  return verdict.kind === "allowed" ? formatContainerUser(verdict.user) : spelling
}

const isRoot = (c: Credentials): boolean => [...c.uids, ...c.gids, ...c.groups].includes(0)
const isRootPart = (part: ContainerUser["user"]): boolean => (part._tag === "Id" ? part.id === 0 : part.name === "root")

// Spellings that matter, then a sample of generated ones (fixed seed: the run stays repeatable and short).
const CHOSEN = [
  "00",
  "+0",
  "-0",
  "0000:1000",
  ":1000",
  "1000:0",
  "1000:-00",
  "nobody:root",
  "node:root",
  "1234",
  "1000:1000",
  "+01000:065534",
  "node:nogroup",
  " 0",
  "1000:1000:0",
]
const SPELLINGS = [...new Set([...CHOSEN, ...fc.sample(arbUserSpelling, { seed: 11, numRuns: 7 })])]

describe("User, as the DTMA reads it and as the kernel runs it", () => {
  it("starts no container as uid 0 or gid 0 by any spelling Docker accepts: the parser agrees with /proc/self/status of a real container", {
    timeout: 240_000,
  }, async () => {
    const rows: Array<{ spelling: string; verdict: Verdict["kind"]; kernel: Credentials | null }> = []
    // Three at a time: other suites share this 2-core machine.
    for (let i = 0; i < SPELLINGS.length; i += 3) {
      const batch = SPELLINGS.slice(i, i + 3)
      const views = await Promise.all(batch.map((spelling) => kernelView(deployedSpelling(spelling))))
      batch.forEach((spelling, j) => rows.push({ spelling, verdict: verdictOf(spelling).kind, kernel: views[j] ?? null }))
    }
    const disagreements = rows.filter(({ spelling, kernel }) => {
      const verdict = verdictOf(spelling)
      if (verdict.kind === "allowed") {
        if (kernel === null || isRoot(kernel)) return true
        const { user, group } = verdict.user
        // Numbers are what the kernel shows; names are the image's to resolve.
        if (user._tag === "Id" && kernel.uids.some((u) => u !== user.id)) return true
        if (group?._tag === "Id" && (kernel.gids.some((g) => g !== group.id) || kernel.groups.join() !== String(group.id))) return true
        return false
      }
      // Root by uid or group, the parser says: Docker refuses it or runs it as root, never otherwise.
      const rootPart = verdict.kind === "refused" && (isRootPart(verdict.user.user) || (verdict.user.group !== null && isRootPart(verdict.user.group)))
      return rootPart && kernel !== null && !isRoot(kernel)
    })
    expect(disagreements).toEqual([])
    // Every spelling the kernel ran as root was refused, and the sample did run some.
    expect(rows.filter((r) => r.kernel !== null && isRoot(r.kernel) && r.verdict === "allowed")).toEqual([])
    expect(rows.filter((r) => r.kernel !== null && isRoot(r.kernel)).length).toBeGreaterThanOrEqual(8)
    // Why a uid alone is given its own group: run as given, a uid the image does not list gets group 0.
    expect((await kernelView("1234"))?.gids).toEqual([0, 0, 0, 0])
    expect(rows.find((r) => r.spelling === "1234")).toMatchObject({
      verdict: "allowed",
      kernel: { uids: [1234, 1234, 1234, 1234], gids: [1234, 1234, 1234, 1234] },
    })
  })
})

let dtma: DtmaProcess
const name = `in${Date.now().toString(36)}`
const managed = (): ReadonlyArray<string> =>
  execFileSync("docker", ["ps", "-aq", "--no-trunc", "--filter", `label=dtma.managed=${dtma.scope}`], { encoding: "utf8" })
    .split("\n")
    .filter((id) => id !== "")

beforeAll(async () => {
  dtma = await startDtma()
}, 60_000)
afterAll(async () => {
  for (const id of managed()) execFileSync("docker", ["rm", "-f", id])
  await dtma.kill("SIGTERM")
})

describe("a deploy the runtime would refuse or run as root, through a DTMA on a real engine", () => {
  const stdio = (extra: Record<string, unknown>) => ({
    dockerImageUrl: EVERYTHING,
    instanceNameOnToolbox: `${name}-x`,
    accountToolInstanceId: "ati-x",
    mcpTransportType: "stdio",
    ...extra,
  })

  it("answers 400 at once, creating nothing, for uid 0 or gid 0 spelled otherwise, malformed User or Tmpfs, and host port 22", {
    timeout: 60_000,
  }, async () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [stdio({ baseConfigOverrideJson: { User: "00" } }), 'Invalid User: "00" is uid 0 (root)'],
      [stdio({ baseConfigOverrideJson: { User: "1000:0" } }), 'Invalid User: "1000:0" has group 0 (root)'],
      [stdio({ baseConfigOverrideJson: { User: " 0" } }), 'Invalid User: " 0" has the user " 0", which is neither'],
      [stdio({ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "size=abc" } } } }), 'Invalid HostConfig.Tmpfs: "/cache" "size=abc"'],
      [stdio({ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/proc": "" } } } }), 'Invalid HostConfig.Tmpfs: "/proc" is under /proc'],
      [
        stdio({
          mcpTransportType: "streamable_http",
          mcpPort: 3001,
          baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"], HostConfig: { PortBindings: { "3001/tcp": [{ HostPort: "22" }] } } },
        }),
        "Invalid PortBindings: host port 22 cannot carry the server's MCP port 3001",
      ],
    ]
    for (const [body, error] of cases) {
      const started = Date.now()
      const res = await dtma.call("POST", "/mcp-servers", body)
      expect({ status: res.status, error: String((res.body as { error?: unknown }).error) }).toEqual({ status: 400, error: expect.stringContaining(error) })
      // Refused before any container or start timeout.
      expect(Date.now() - started).toBeLessThan(5_000)
    }
    expect(managed()).toEqual([])
  })

  it("runs a server deployed as 1000:1000 with exactly that uid and gid, as /proc/<pid>/status of its process shows", { timeout: 120_000 }, async () => {
    const res = await dtma.call("POST", "/mcp-servers", stdio({ instanceNameOnToolbox: `${name}-u`, baseConfigOverrideJson: { User: "+01000:01000" } }))
    expect(res.status).toBe(201)
    const [id] = managed()
    const pid = execFileSync("docker", ["inspect", "-f", "{{.State.Pid}}", id ?? ""], { encoding: "utf8" }).trim()
    expect(credentialsIn(readFileSync(`/proc/${pid}/status`, "utf8"))).toEqual({
      uids: [1000, 1000, 1000, 1000],
      gids: [1000, 1000, 1000, 1000],
      groups: [1000],
    })
    expect(execFileSync("docker", ["inspect", "-f", "{{.Config.User}}", id ?? ""], { encoding: "utf8" }).trim()).toBe("1000:1000")
  })
})
