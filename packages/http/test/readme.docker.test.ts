import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, startDtma, type DtmaProcess } from "./dtmaProcess.ts"

const README = readFileSync(join(import.meta.dirname, "..", "..", "..", "README.md"), "utf8")

/** The README's curl walk-through, exactly as a newcomer copies it. */
const walkthrough = (): string => {
  const section = /<!-- walkthrough:start -->\n```bash\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(README)?.[1]
  if (section === undefined) throw new Error("README has no walk-through block")
  return section
}

describe("the README walk-through", () => {
  let dtma: DtmaProcess | undefined
  const name = `hello-tool-${Date.now().toString(36)}`
  afterAll(async () => {
    spawnSync("docker", ["rm", "-f", name])
    await dtma?.kill("SIGTERM")
  })

  it("deploys, stops, starts and removes a tool against a DTMA that generated its own token", async () => {
    dtma = await startDtma({ token: null })
    const toolPort = await freePort()
    // Only what differs between a droplet and a test run is replaced: the ports, the state
    // directory and the tool's name (so a run never touches a newcomer's own hello-tool).
    const script = walkthrough()
      .replaceAll("http://127.0.0.1:30000", dtma.url)
      .replaceAll("/var/lib/dtma", dtma.stateDir)
      .replaceAll("30101", String(toolPort))
      .replaceAll("hello-tool", name)
    const output = execFileSync("bash", ["-euo", "pipefail", "-c", script], { encoding: "utf8", timeout: 90_000 })
    expect(output).toContain("OK")
    expect(output).toContain(`"message":"Tool '${name}' deployed successfully."`)
    expect(output).toContain('"envNames":["TOOL_GREETING"]')
    expect(output).not.toContain("hello\"")
    expect(output).toContain(`"message":"Tool instance '${name}' stopped successfully."`)
    expect(output).toContain(`"message":"Tool instance '${name}' started successfully."`)
    expect(output).toContain(`"message":"Tool instance '${name}' removed successfully."`)
    expect(execFileSync("docker", ["ps", "-aq", "--filter", `name=^${name}$`], { encoding: "utf8" }).trim()).toBe("")
  })
})
