import { PassThrough } from "node:stream"
import type { EventsRequest } from "../../src/docker/DockerApi.ts"

/** A Docker event as the engine serialises it (the fields the adapter reads). */
export interface EventJson {
  readonly Type: string
  readonly Action: string
  readonly id?: string
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> }
  readonly time: number
  readonly timeNano: number
}

/**
 * The daemon's event feed: a history that `since` replays from, open streams that get every new
 * event as newline-delimited JSON, and faults (break every stream, refuse to connect).
 */
export class FakeEventFeed {
  readonly history: Array<EventJson> = []
  readonly requests: Array<EventsRequest> = []
  /** Every event stream still open. */
  readonly open = new Set<PassThrough>()
  /** Writes each line in two chunks, split mid-line, to exercise reassembly. */
  splitLines = false

  connect(request: EventsRequest, signal: AbortSignal): PassThrough {
    this.requests.push(request)
    const since = request.since
    const stream = new PassThrough()
    this.open.add(stream)
    const drop = () => {
      this.open.delete(stream)
      stream.destroy()
    }
    signal.addEventListener("abort", drop, { once: true })
    stream.once("close", () => this.open.delete(stream))
    const replay = since === null ? [] : this.history.filter((e) => e.timeNano / 1e9 >= since)
    for (const e of replay) this.write(stream, e)
    return stream
  }

  /** Records the event and sends it to every open stream. */
  emit(event: EventJson): void {
    this.history.push(event)
    for (const stream of this.open) this.write(stream, event)
  }

  /** Ends every open stream, as a daemon restart does. */
  breakAll(): void {
    for (const stream of Array.from(this.open)) stream.end()
    this.open.clear()
  }

  private write(stream: PassThrough, event: EventJson): void {
    const line = `${JSON.stringify(event)}\n`
    if (!this.splitLines) return void stream.write(line)
    const cut = Math.floor(line.length / 2)
    stream.write(line.slice(0, cut))
    stream.write(line.slice(cut))
  }
}

let clock = 0
/** A container event with exactly these attributes (the container's labels, `image`, `name`, ...), stamped now. */
export const containerEventJson = (action: string, containerId: string, attributes: Readonly<Record<string, string>>): EventJson => {
  clock = Math.max(clock + 1_000_000, Date.now() * 1_000_000)
  const Actor = { ID: containerId, Attributes: { ...attributes } }
  return { Type: "container", Action: action, id: containerId, Actor, time: Math.floor(clock / 1e9), timeNano: clock }
}

/** A container event of a managed instance, with the attributes Docker 20.10 sends, stamped now. */
export const eventJson = (action: string, containerId: string, attributes: Record<string, string> = {}): EventJson =>
  containerEventJson(action, containerId, { "dtma.managed": "true", "dtma.name": "srv", image: "dtma/mcp-memory:1", name: "srv-1", ...attributes })
