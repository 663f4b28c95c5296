import * as Effect from "effect/Effect"
import type { ContainerEvent, ContainerEvents, EventSubscription } from "@dtma/domain"

interface Subscriber {
  readonly onEvent: (event: ContainerEvent) => void
  readonly onGap: () => void
}

/**
 * A stateful stand-in for a runtime's event feed: `emit` delivers to every subscriber in order;
 * while the feed is broken (`breakFeed`) events are lost, and `restoreFeed` calls `onGap`, as the
 * real feed does once it has reconnected after a daemon restart. The real feed may also replay what
 * the break missed, after the gap (Docker does after a dropped connection): `restoreFeed({ replay: true })`.
 */
export class InMemoryContainerEvents implements ContainerEvents {
  readonly #subscribers = new Set<Subscriber>()
  #broken = false
  #lostBeforeBreak = 0
  /** Events emitted while the feed was broken, which no subscriber saw. */
  readonly lost: Array<ContainerEvent> = []

  /** How many subscriptions are active. */
  get subscriberCount(): number {
    return this.#subscribers.size
  }

  /** Something happened to a managed container. */
  emit(event: ContainerEvent): void {
    if (this.#broken) {
      this.lost.push(event)
      return
    }
    for (const s of Array.from(this.#subscribers)) s.onEvent(event)
  }

  /** The feed breaks (the daemon went away): events are lost until `restoreFeed`. */
  breakFeed(): void {
    if (!this.#broken) this.#lostBeforeBreak = this.lost.length
    this.#broken = true
  }

  /** The feed is back: every subscriber hears that it may have missed events, then, with `replay`, gets them. */
  restoreFeed(options: { readonly replay?: boolean } = {}): void {
    if (!this.#broken) return
    this.#broken = false
    const missed = options.replay === true ? this.lost.splice(this.#lostBeforeBreak) : []
    for (const s of Array.from(this.#subscribers)) s.onGap()
    for (const event of missed) this.emit(event)
  }

  /** A break and a reconnect in one step. */
  simulateGap(): void {
    this.breakFeed()
    this.restoreFeed()
  }

  subscribe(handlers: Subscriber): Effect.Effect<EventSubscription> {
    return Effect.sync(() => {
      // A handler object of its own, so that subscribing the same handlers twice counts twice.
      const subscriber: Subscriber = { onEvent: handlers.onEvent, onGap: handlers.onGap }
      this.#subscribers.add(subscriber)
      return { unsubscribe: Effect.sync(() => void this.#subscribers.delete(subscriber)) }
    })
  }
}
