import { Effect } from "effect"
import type { CreateOptions, InstanceSpec } from "@dtma/domain"
import { BROKEN_MCP_IMAGE, IMAGE, MCP_IMAGE, McpServingRuntime, NOW, mcpBody, startTestApp, type TestApp } from "./support.ts"

/** mulberry32: a small seeded generator, so that a failing storm replays with its seed. */
export const seeded = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The MCP-serving fakes with a random pause (0–`maxDelayMs`, from a seed) before every runtime
 * call, so that concurrent requests interleave at every await as they would over a real engine.
 */
export class JitteryRuntime extends McpServingRuntime {
  readonly #random: () => number
  readonly #maxDelayMs: number

  constructor(seed: number, maxDelayMs = 3) {
    super({ images: [IMAGE, MCP_IMAGE, BROKEN_MCP_IMAGE], now: () => NOW.getTime() })
    this.#random = seeded(seed)
    this.#maxDelayMs = maxDelayMs
  }

  #pause<A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> {
    const ms = Math.floor(this.#random() * (this.#maxDelayMs + 1))
    return (ms === 0 ? Effect.yieldNow : Effect.sleep(ms)).pipe(Effect.andThen(effect))
  }

  override create(spec: InstanceSpec, options?: CreateOptions) {
    return this.#pause(super.create(spec, options))
  }
  override start(containerId: string) {
    return this.#pause(super.start(containerId))
  }
  override stop(containerId: string, graceSeconds: number) {
    return this.#pause(super.stop(containerId, graceSeconds))
  }
  override remove(containerId: string) {
    return this.#pause(super.remove(containerId))
  }
  override get(containerId: string) {
    return this.#pause(super.get(containerId))
  }
  override list() {
    return this.#pause(super.list())
  }
}

export const startJitteryApp = (seed: number): Promise<TestApp & { readonly runtime: JitteryRuntime }> =>
  startTestApp({ runtime: new JitteryRuntime(seed) }) as Promise<TestApp & { readonly runtime: JitteryRuntime }>

/** What an operation that succeeded says about its server afterwards. */
export type Implied = "running" | "stopped" | "absent"

export type Verb = "deploy" | "start" | "stop" | "restart" | "redeploy" | "delete" | "toolStart" | "toolStop" | "toolDelete"
export const VERBS: ReadonlyArray<Verb> = ["deploy", "start", "stop", "restart", "redeploy", "delete", "toolStart", "toolStop", "toolDelete"]

export const IMPLIED: Readonly<Record<Verb, Implied>> = {
  deploy: "running",
  start: "running",
  restart: "running",
  redeploy: "running",
  stop: "stopped",
  delete: "absent",
  toolStart: "running",
  toolStop: "stopped",
  toolDelete: "absent",
}

export interface Answered {
  readonly verb: Verb
  readonly name: string
  readonly status: number
  /** Logical clock ticks when the request was sent and its answer read. */
  readonly sentAt: number
  readonly doneAt: number
}

/** One operation as an HTTP request on the API's own routes; `deploy` is the deploy body for the name. */
export const requestOf = (
  verb: Verb,
  name: string,
  deploy: Readonly<Record<string, unknown>>,
): { readonly method: string; readonly path: string; readonly body?: unknown } => {
  const path = `/mcp-servers/${encodeURIComponent(name)}`
  const tool = `/tools/${encodeURIComponent(name)}`
  switch (verb) {
    case "deploy":
      return { method: "POST", path: "/mcp-servers", body: deploy }
    case "redeploy":
      return { method: "POST", path: `${path}/redeploy`, body: deploy }
    case "start":
    case "stop":
    case "restart":
      return { method: "POST", path: `${path}/${verb}` }
    case "delete":
      return { method: "DELETE", path }
    case "toolStart":
      return { method: "POST", path: `${tool}/start` }
    case "toolStop":
      return { method: "POST", path: `${tool}/stop` }
    case "toolDelete":
      return { method: "DELETE", path: tool }
  }
}

/**
 * How storm servers get OAuth tokens, by name: by file, by socket, or none (`east`), so that storms
 * also check credential directories and sockets come and go with their servers.
 */
export const oauthOf = (name: string): Record<string, unknown> =>
  name === "east"
    ? {}
    : { agentId: "agent-1", oauthConnectionIds: ["github-1"], credentialInjectionMethod: name.includes("wind") ? "runtime_api" : "mounted_secrets" }

/** Sends one operation to the test app; answers its status. */
export const sendToApp = async (app: TestApp, verb: Verb, name: string): Promise<number> => {
  const { method, path, body } = requestOf(verb, name, mcpBody({ instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name}`, ...oauthOf(name) }))
  const res = await app.json(method, path, body)
  await res.text()
  return res.status
}
