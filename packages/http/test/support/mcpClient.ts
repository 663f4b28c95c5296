import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"

const execFileAsync = promisify(execFile)

/** Runs the docker CLI without blocking the event loop (calls in flight keep going); its stdout, trimmed. */
export const docker = async (...args: ReadonlyArray<string>): Promise<string> => (await execFileAsync("docker", [...args], { encoding: "utf8" })).stdout.trim()

/** Every container (running or not) whose `dtma.name` label is `name`: `{ id, state }`. */
export const containersNamed = async (name: string): Promise<ReadonlyArray<{ id: string; state: string }>> =>
  (await docker("ps", "-a", "--no-trunc", "--filter", `label=dtma.name=${name}`, "--format", "{{.ID}} {{.State}}"))
    .split("\n")
    .filter(Boolean)
    .map((line) => ({ id: line.slice(0, line.indexOf(" ")), state: line.slice(line.indexOf(" ") + 1) }))

/**
 * `docker rm -f` the containers `ids`, at most four to a call (a quirk of the engine the Docker suite
 * runs on): what the engine said when a call failed, or "".
 */
export const removeContainers = async (ids: ReadonlyArray<string>): Promise<string> => {
  let problem = ""
  for (let i = 0; i < ids.length; i += 4) {
    problem = await docker("rm", "-f", ...ids.slice(i, i + 4)).then(
      () => problem,
      (e: unknown) => String((e as { stderr?: string }).stderr ?? e).trim(),
    )
  }
  return problem
}

/**
 * `docker rm -f` every container labelled with one of `names`, trying again when the engine fails a
 * removal (a busy engine sometimes does); throws, saying which are left and why, if any still is.
 */
export const removeContainersNamed = async (names: Iterable<string>): Promise<void> => {
  const left: Array<string> = []
  for (const name of names) {
    let problem = ""
    for (let attempt = 0; attempt < 3; attempt++) {
      const ids = (await containersNamed(name)).map((c) => c.id)
      if (ids.length === 0) break
      problem = await removeContainers(ids)
      if (problem !== "") await sleep(1_000)
    }
    if ((await containersNamed(name)).length > 0) left.push(`${name} (${problem || "still listed after removal"})`)
  }
  if (left.length > 0) throw new Error(`containers left behind: ${left.join("; ")}`)
}

/**
 * Every container (running or not) of server `server`: its own (`dtma.name`) and, for a `per_agent`
 * server, its agents' instances, whose `dtma.name` is `<server>/<agent>` and which only
 * `dtma.isolated-server` names the server of.
 */
export const containersOfServer = async (server: string): Promise<ReadonlyArray<string>> => {
  const ids = async (label: string) => (await docker("ps", "-aq", "--no-trunc", "--filter", `label=${label}=${server}`)).split("\n").filter(Boolean)
  return [...new Set([...(await ids("dtma.name")), ...(await ids("dtma.isolated-server"))])]
}

/** An official SDK client of a DTMA's proxied endpoint, authenticated with the bearer token. */
export const mcpClient = async (endpoint: string, token: string): Promise<Client> => {
  const client = new Client({ name: "dtma-fault-test", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

/** The text of a tool result's first content item. */
export const textOf = (result: unknown): string => (result as { content?: Array<{ text?: string }> }).content?.[0]?.text ?? ""

/** Calls `echo` once and checks the answer is its own message. */
export const echo = async (client: Client, message: string): Promise<void> => {
  const text = textOf(await client.callTool({ name: "echo", arguments: { message } }))
  if (text !== `Echo: ${message}`) throw new Error(`echo of '${message}' answered '${text}'`)
}

/** What a loop of calls saw: calls answered correctly, calls that failed (with the first few reasons). */
export interface CallTally {
  ok: number
  failed: number
  readonly errors: Array<string>
  /** Unix ms of each failure, to place it in a phase. */
  readonly failedAt: Array<number>
}

export interface CallLoop {
  readonly tally: CallTally
  /** Stops after the call in flight and resolves with the tally. */
  stop(): Promise<CallTally>
}

/**
 * Calls `echo` on `client` back to back, each with a distinct message (`<tag> <n>`), until stopped;
 * a call that throws or answers wrongly counts as failed and the loop goes on.
 */
export const echoLoop = (client: Client, tag: string): CallLoop => {
  const tally: CallTally = { ok: 0, failed: 0, errors: [], failedAt: [] }
  const state = { stopped: false }
  const done = (async () => {
    for (let n = 0; !state.stopped; n++) {
      try {
        await echo(client, `${tag} ${n}`)
        tally.ok++
      } catch (error) {
        tally.failed++
        tally.failedAt.push(Date.now())
        if (tally.errors.length < 5) tally.errors.push(String(error))
        // A closed client fails at once: without a turn of the event loop a loop left running (its
        // test failed before stopping it) would spin on promises and starve the file's clean-up.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
  })()
  return {
    tally,
    stop: async () => {
      state.stopped = true
      await done
      return tally
    },
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every `everyMs` until it returns a value other than undefined; throws `what` after `timeoutMs`. */
export const waitFor = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMs: number, everyMs = 20): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}
