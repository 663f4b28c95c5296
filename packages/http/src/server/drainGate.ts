import type { Context, Middleware } from "koa"
import { isMcpEndpoint } from "./mcpEndpoints.ts"

/** Lets calls in flight finish at shutdown while refusing new ones. */
export interface DrainGate {
  /** The app's first middleware: counts calls, or refuses them with 503 once draining. */
  readonly middleware: Middleware
  /**
   * From now on every new request gets a 503. Resolves once no call is in flight, or after
   * `timeoutMs`, with the number of calls still in flight then.
   */
  drain(timeoutMs: number): Promise<number>
  /** Calls (requests other than listening event streams) being answered. */
  readonly inFlight: () => number
  /** Calls begun since the start (an idle DTMA begins none). */
  readonly begun: () => number
}

const SHUTTING_DOWN = "The DTMA is shutting down; retry shortly."

/** A client's GET that opens an event stream to listen on: it stays open until closed; it is not a call. */
const isListeningStream = (ctx: Context): boolean => ctx.method === "GET" && (ctx.get("accept") ?? "").includes("text/event-stream")

const refuse = (ctx: Context): void => {
  ctx.status = 503
  ctx.set("retry-after", "1")
  ctx.set("connection", "close")
  // The MCP endpoint answers in JSON-RPC, like its other refusals; the rest of the API as usual.
  ctx.body = isMcpEndpoint(ctx.path)
    ? { jsonrpc: "2.0", id: null, error: { code: -32000, message: SHUTTING_DOWN } }
    : { success: false, message: SHUTTING_DOWN, error: SHUTTING_DOWN, code: "shutting_down" }
}

export const makeDrainGate = (): DrainGate => {
  let draining = false
  let inFlight = 0
  let begun = 0
  const waiting = new Set<() => void>()

  const middleware: Middleware = async (ctx, next) => {
    if (draining) return refuse(ctx)
    if (isListeningStream(ctx)) return next()
    inFlight++
    begun++
    // `close` comes once the answer is sent or the connection is gone, also for handlers that write
    // to the response themselves (the MCP proxy).
    ctx.res.once("close", () => {
      inFlight--
      if (inFlight === 0) for (const wake of waiting) wake()
    })
    return next()
  }

  const drain: DrainGate["drain"] = (timeoutMs) => {
    draining = true
    if (inFlight === 0) return Promise.resolve(0)
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        waiting.delete(done)
        resolve(inFlight)
      }
      const timer = setTimeout(done, timeoutMs)
      waiting.add(done)
    })
  }

  return { middleware, drain, inFlight: () => inFlight, begun: () => begun }
}

/** What a shutdown needs of an app: its gate, and how to end its MCP client sessions (their event streams). */
export interface ShutdownHooks {
  readonly gate: DrainGate
  readonly closeSessions: () => void
}

const hooks = new WeakMap<object, ShutdownHooks>()

/** Records the shutdown hooks of `app` (done by `createApp`). */
export const registerShutdownHooks = (app: object, registered: ShutdownHooks): void => void hooks.set(app, registered)

/** The shutdown hooks `createApp` registered for `app`. */
export const shutdownHooksOf = (app: object): ShutdownHooks | undefined => hooks.get(app)
