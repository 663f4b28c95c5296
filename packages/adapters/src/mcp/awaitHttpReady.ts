import type { ConnectProblem } from "@dtma/domain"

/** Why a server never answered: nothing accepted connections (`unreachable`), or it did not answer in time. */
export interface NotReady {
  readonly reason: Extract<ConnectProblem, "unreachable" | "timeout">
  readonly detail: string
}

/** How long and how often to probe. */
export interface AwaitHttpReadyOptions {
  /** The moment (`Date.now()` scale) after which it gives up. */
  readonly deadline: number
  /** Pause between attempts; default 100 ms. */
  readonly intervalMs?: number
  readonly signal?: AbortSignal
}

// Refused or unroutable: nothing listens. Anything else (reset, empty reply, hang) is a server
// not ready yet, such as docker-proxy accepting before the container listens.
const NOTHING_LISTENS = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"])

const codeOf = (error: unknown): string => {
  const cause: unknown = error instanceof Error ? error.cause : undefined
  const code: unknown = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown"
}

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    signal.addEventListener("abort", done, { once: true })
  })

/** The HTTP form of a URL to probe: `ws:`/`wss:` become `http:`/`https:`. */
export const probeUrlOf = (url: URL): URL => {
  const probe = new URL(url)
  if (probe.protocol === "ws:") probe.protocol = "http:"
  if (probe.protocol === "wss:") probe.protocol = "https:"
  return probe
}

/**
 * Polls `url` until the server gives any HTTP response (a 404 or 400 counts: something listens and
 * speaks HTTP). A TCP connect is not enough: docker-proxy accepts at once and then resets. Resolves
 * `null` when ready, else why not, no later than the deadline.
 */
export const awaitHttpReady = async (url: URL, options: AwaitHttpReadyOptions): Promise<NotReady | null> => {
  const interval = options.intervalMs ?? 100
  const probe = probeUrlOf(url)
  let last = "no attempt was made"
  let refusedOnly = true
  for (;;) {
    const left = options.deadline - Date.now()
    if (left <= 0 || options.signal?.aborted === true) break
    const attempt = AbortSignal.any([AbortSignal.timeout(left), ...(options.signal ? [options.signal] : [])])
    try {
      const response = await fetch(probe, { signal: attempt, redirect: "manual" })
      // Headers are enough; an SSE endpoint would stream forever.
      await response.body?.cancel().catch(() => undefined)
      return null
    } catch (error) {
      const code = codeOf(error)
      last = `${probe.origin}: ${code}`
      if (!NOTHING_LISTENS.has(code)) refusedOnly = false
    }
    await pause(Math.min(interval, Math.max(0, options.deadline - Date.now())), attempt)
  }
  return refusedOnly
    ? { reason: "unreachable", detail: `nothing accepted connections at ${probe.origin} (${last})` }
    : { reason: "timeout", detail: `no HTTP answer from ${probe.href} in time (last: ${last})` }
}
