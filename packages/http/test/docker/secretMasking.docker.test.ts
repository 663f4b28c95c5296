import { generateKeyPairSync, randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { deployBody, MISBEHAVING } from "../support/faultSupport.ts"
import { removeContainersNamed } from "../support/mcpClient.ts"

// Issue 11, finding 2: values a server was given that span lines (a PEM key, a multi-line token)
// must be masked wherever what the server prints is shown, line by line and JSON-escaped, as single-line
// values are: in a failed deploy's answer, in the DTMA's own log and in `GET /mcp-servers/:name/logs`.

const RUN = `mask${Date.now().toString(36)}`
const names = new Set<string>()
let dtma: DtmaProcess

const nameOf = (suffix: string): string => {
  const name = `${RUN}-${suffix}`
  names.add(name)
  return name
}

const random = () => randomBytes(6).toString("hex")
/** A fresh private key, PEM-encoded: several lines between BEGIN and END markers. */
const pemKey = (): string =>
  generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey

const SECRETS: Record<string, string> = {
  PEM_KEY: pemKey(),
  MULTI_TOKEN: `tok-${random()}\nline two (a+b)*[c]?{d}|^$\\. ${random()}\n\tünïcødé-🔑-${random()} "quoted"\n`,
  CRLF_SECRET: `first-${random()}\r\nsecond-${random()}\r\nok`,
  PLAIN_SECRET: `plain-${random()}`,
}
const SHORTEST = 4

/** Every line of every value that is long enough to be worth masking, and its JSON-escaped form. */
const fragments: ReadonlyArray<string> = [
  ...new Set(
    Object.values(SECRETS).flatMap((v) =>
      v
        .split(/\r\n|\r|\n/)
        .map((l) => l.trim())
        .filter((l) => l.length >= SHORTEST),
    ),
  ),
].flatMap((l) => [l, JSON.stringify(l).slice(1, -1)])

const leaksIn = (text: string): ReadonlyArray<string> => fragments.filter((f) => text.includes(f))

/** Prints every value, raw and as `JSON.stringify(process.env)`, on `streams`. */
const printer = (streams: string) =>
  `const print = (t) => { for (const s of [${streams}]) s.write(t + "\\n") };` +
  `for (const k of ${JSON.stringify(Object.keys(SECRETS))}) print(process.env[k]);` +
  "print(JSON.stringify(process.env));"

// Prints on stdout and stderr once the DTMA speaks (so that the DTMA reads both), then exits: the deploy fails.
const FAILING = `process.stdin.once("data", () => { ${printer("process.stderr, process.stdout")} setTimeout(() => process.exit(3), 300) })`
// Prints on stderr at once, then serves MCP: the deploy succeeds and its logs hold the values.
const SERVING = `${printer("process.stderr")} import("/app/server.mjs")`

const deployOf = (name: string, script: string) =>
  deployBody(name, {
    dockerImageUrl: MISBEHAVING,
    baseConfigOverrideJson: { Env: Object.entries(SECRETS).map(([k, v]) => `${k}=${v}`), Entrypoint: ["node", "-e", script] },
  })

beforeAll(async () => {
  dtma = await startDtma()
})

afterAll(async () => {
  await dtma?.kill("SIGKILL")
  await removeContainersNamed(names)
})

describe("values a server was given, on a real engine", () => {
  it("never shows a line of a multi-line value, a PEM key among them, in a failed deploy's answer, the DTMA's log or a server's logs", async () => {
    expect(SECRETS["PEM_KEY"]!.split("\n").length).toBeGreaterThan(3)

    const failed = await dtma.call("POST", "/mcp-servers", deployOf(nameOf("fails"), FAILING))
    expect(failed.status).toBe(502)
    const answer = JSON.stringify(failed.body)
    // The answer does show what the server printed, masked.
    expect(answer).toContain("********")
    expect.soft(leaksIn(answer)).toEqual([])
    expect.soft(leaksIn(String(failed.body.error))).toEqual([])

    const serving = nameOf("serves")
    expect((await dtma.call("POST", "/mcp-servers", deployOf(serving, SERVING))).status).toBe(201)
    const logs = await dtma.call("GET", `/mcp-servers/${serving}/logs?tail=200`)
    expect(logs.status).toBe(200)
    const lines: ReadonlyArray<{ text: string }> = logs.body.data.lines
    expect(lines.length).toBeGreaterThan(5)
    expect(lines.some((l) => l.text.includes("********"))).toBe(true)
    expect.soft(leaksIn(lines.map((l) => l.text).join("\n"))).toEqual([])
    expect.soft(leaksIn(JSON.stringify(logs.body))).toEqual([])

    const log = dtma.output()
    // The DTMA did read the values on the failing server's stdout, and logged the failure.
    expect(log).toContain("skipped a stdout line")
    expect(log).toContain("operation failed")
    expect.soft(leaksIn(log)).toEqual([])
    expect((await dtma.call("DELETE", `/mcp-servers/${serving}`)).status).toBe(200)
  }, 120_000)
})
