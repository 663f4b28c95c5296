import { newDockerode } from "./newDockerode.ts"
import * as Effect from "effect/Effect"
import type { ContainerEvents } from "@dtma/domain"
import { containerEventOf, eventFilters, eventTimeNano } from "./containerEvent.ts"
import { dockerApiOf, type DockerApi } from "./DockerApi.ts"
import { makeLineSplitter } from "./lineSplitter.ts"

/** Reconnection tuning and an error sink. */
export interface DockerContainerEventsOptions {
  /** The first pause before reconnecting, doubled after each failure up to `maxBackoffMs`; default 200 ms. */
  readonly initialBackoffMs?: number
  /** Default 5 s. */
  readonly maxBackoffMs?: number
  /** Lines of the feed that are not events, and failed connections, for the log. */
  readonly onError?: (error: unknown) => void
  readonly now?: () => number
  /** Whose containers to follow (`dtma.managed=<scope>`); default every default-scoped DTMA's. */
  readonly scope?: string
}

/** Unix seconds with nanoseconds, as Docker's `since` takes them. */
const secondsOf = (nano: bigint): number => Number(nano / 1_000_000_000n) + Number(nano % 1_000_000_000n) / 1e9

/**
 * The `ContainerEvents` over Docker's event feed. After a break (daemon restart, dropped
 * connection) it reconnects with capped exponential backoff, asking Docker to replay from the last
 * event it passed on (`since`, duplicates dropped), and calls `onGap` once connected again.
 */
export const makeDockerContainerEvents = (api: DockerApi, options: DockerContainerEventsOptions = {}): ContainerEvents => {
  const initial = options.initialBackoffMs ?? 200
  const max = options.maxBackoffMs ?? 5_000
  const now = options.now ?? Date.now

  const subscribe: ContainerEvents["subscribe"] = (handlers) =>
    Effect.sync(() => {
      let stopped = false
      let controller = new AbortController()
      let timer: ReturnType<typeof setTimeout> | null = null
      let backoff = initial
      let missed = false
      // Where a replay starts: the subscription (by our clock), then the last event passed on (by the
      // daemon's), with every event seen at that same instant so that a replay repeats none of them.
      const subscribedAt = BigInt(now()) * 1_000_000n
      let cursor: bigint | null = null
      let seenAtCursor = new Set<string>()

      const pass = (json: unknown) => {
        const time = eventTimeNano(json)
        const event = containerEventOf(json, options.scope)
        if (time === null || event === null) return
        const key = `${event.containerId}/${event.kind}`
        if (cursor !== null && (time < cursor || (time === cursor && seenAtCursor.has(key)))) return
        if (time !== cursor) seenAtCursor = new Set()
        cursor = time
        seenAtCursor.add(key)
        handlers.onEvent(event)
      }

      // Each connection has its own controller: a late `close` of an old one must not touch the new one.
      const retry = (from: AbortController) => {
        if (stopped || from !== controller || timer !== null) return
        missed = true
        from.abort()
        timer = setTimeout(() => {
          timer = null
          connect()
        }, backoff)
        backoff = Math.min(backoff * 2, max)
      }

      const read = (stream: NodeJS.ReadableStream, from: AbortController) => {
        const lines = makeLineSplitter({ maxLineBytes: 1024 * 1024 })
        const connectedAt = now()
        stream.on("data", (chunk: Buffer | string) => {
          for (const line of lines.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk)) {
            if (stopped || from !== controller) return
            if (line._tag === "Oversized" || line.text.trim() === "") continue
            try {
              pass(JSON.parse(line.text))
            } catch (error) {
              options.onError?.(error)
            }
          }
        })
        const broken = () => {
          // A connection that held for a while resets the backoff; one that drops at once does not.
          if (from === controller && now() - connectedAt >= max) backoff = initial
          retry(from)
        }
        stream.on("end", broken)
        stream.on("close", broken)
        stream.on("error", (error: unknown) => {
          if (from === controller) options.onError?.(error)
          broken()
        })
      }

      const connect = () => {
        if (stopped) return
        const mine = new AbortController()
        controller = mine
        const since = missed ? secondsOf(cursor ?? subscribedAt) : null
        api.containerEvents({ since, filters: eventFilters(options.scope) }, mine.signal).then(
          (stream) => {
            if (stopped) return void mine.abort()
            read(stream, mine)
            if (!missed) return
            missed = false
            // A handler that throws is reported like a bad line: it must not end the feed, nor the process.
            try {
              handlers.onGap()
            } catch (error) {
              options.onError?.(error)
            }
          },
          (error: unknown) => {
            options.onError?.(error)
            retry(mine)
          },
        )
      }

      connect()
      const unsubscribe = Effect.sync(() => {
        stopped = true
        if (timer !== null) clearTimeout(timer)
        timer = null
        controller.abort()
      })
      return { unsubscribe }
    })

  return { subscribe }
}

/** Over the Docker daemon dockerode finds by default (`DOCKER_HOST`, else the local socket). */
export const dockerContainerEventsFromEnv = (options: DockerContainerEventsOptions = {}): ContainerEvents =>
  makeDockerContainerEvents(dockerApiOf(newDockerode()), options)
