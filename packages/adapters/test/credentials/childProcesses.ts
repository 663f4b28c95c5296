import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

const ADAPTERS = fileURLToPath(new URL("../..", import.meta.url))
const DELIVERY = fileURLToPath(new URL("../../src/credentials/TmpfsCredentialDelivery.ts", import.meta.url))

/** Waits for a line of the child's output matching `pattern`. */
export const lineFrom = (child: ChildProcess, pattern: RegExp): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString()
      const line = text.split("\n").find((l) => pattern.test(l))
      if (line !== undefined) {
        child.stdout?.off("data", onData)
        resolve(line)
      }
    }
    child.stdout?.on("data", onData)
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before printing ${pattern}; output: ${text}`)))
  })

const DTMA = `
const [root] = process.argv.slice(1)
const { makeTmpfsCredentialDelivery } = await import(${JSON.stringify(DELIVERY)})
const { Effect, Redacted } = await import("effect")
const delivery = makeTmpfsCredentialDelivery({ root })
const credentials = [
  { connectionId: "gh-1", provider: "github", accessToken: Redacted.make("tok-before-restart"), tokenType: "Bearer", expiresAt: null, scopes: [] },
]
const owner = { uid: 1000, gid: 1000 }
await Effect.runPromise(delivery.provision({ name: "socket survivor", method: "runtime_api", owner, credentials }))
await Effect.runPromise(delivery.provision({ name: "files survivor", method: "mounted_secrets", owner, credentials }))
process.stdout.write("ready\\n")
setInterval(() => {}, 60_000)
`

/** A DTMA in another process that provisions two instances, then waits to be killed. */
export const startDtmaDelivering = async (root: string): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", DTMA, root], { cwd: ADAPTERS, stdio: ["ignore", "pipe", "inherit"] })
  await lineFrom(child, /^ready$/)
  return child
}

const READER = `
const fs = await import("node:fs")
const [file] = process.argv.slice(1)
let reads = 0, torn = 0
const seen = new Set()
process.stdin.on("end", () => { process.stdout.write("done " + JSON.stringify({ reads, torn, distinct: seen.size }) + "\\n"); process.exit(0) })
process.stdin.resume()
const loop = () => {
  for (let i = 0; i < 100; i++) {
    let text = ""
    try { text = fs.readFileSync(file, "utf8") } catch { torn++; continue }
    reads++
    if (!/^tok-\\d+-x{50000}$/.test(text)) { torn++; continue }
    const id = text.slice(0, text.indexOf("-x"))
    if (!seen.has(id)) { seen.add(id); process.stdout.write("distinct " + seen.size + "\\n") }
  }
  setImmediate(loop)
}
loop()
`

/** Another process reading `file` in a loop, counting reads that are not one whole token; it reports when its stdin ends. */
export const startReader = (file: string): ChildProcess =>
  spawn(process.execPath, ["--input-type=module", "-e", READER, file], { stdio: ["pipe", "pipe", "inherit"] })
