import type * as Effect from "effect/Effect"
import { token, type Token } from "../Token.ts"
export type ContainerEventKind = "start" | "die" | "destroy" | "oom" | "pause" | "unpause"

/** Something that happened to a managed container. */
export interface ContainerEvent {
  readonly kind: ContainerEventKind
  readonly containerId: string
  /** The instance name from the container's labels. */
  readonly name: string
  /** With `die`: the process's exit code. */
  readonly exitCode: number | null
  /** Unix milliseconds. */
  readonly at: number
}

export interface EventSubscription {
  readonly unsubscribe: Effect.Effect<void>
}

/** A push feed of what happens to managed containers (no polling). */
export interface ContainerEvents {
  /**
   * Calls `onEvent` for every event of a managed container from now on, in order. When the feed
   * breaks (the daemon restarts), it reconnects by itself and calls `onGap` so the caller can
   * re-read state it may have missed.
   */
  subscribe(handlers: { readonly onEvent: (event: ContainerEvent) => void; readonly onGap: () => void }): Effect.Effect<EventSubscription>
}

export const ContainerEvents: Token<ContainerEvents> = token("dtma/ContainerEvents")
