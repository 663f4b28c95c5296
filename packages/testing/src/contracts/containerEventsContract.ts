import { describe, expect, it } from "vitest"
import type { ContainerEvent, ContainerEvents, EventSubscription } from "@dtma/domain"
import { run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** What a container's process does once started. */
export type ContainerBehaviour = "serves" | { readonly exitsWith: number } | "exhausts_memory"

/** An event feed under test, and the runtime whose containers it follows, driven by hand. */
export interface ContainerEventsSubject {
  readonly events: ContainerEvents
  /** A new managed container of instance `name`, created, not started; its id. */
  managed(name: string, behaviour?: ContainerBehaviour): Promise<string>
  /** A new container the feed must not follow (unlabelled, or another DTMA's); its id. */
  foreign(name: string): Promise<string>
  start(id: string): Promise<void>
  pause(id: string): Promise<void>
  unpause(id: string): Promise<void>
  /** Kills the container's process with SIGKILL. */
  kill(id: string): Promise<void>
  /** Removes the container, killing it first if it runs. */
  remove(id: string): Promise<void>
  /** The feed breaks (the daemon goes away): no connection until `restoreFeed`. */
  breakFeed(): Promise<void>
  restoreFeed(): Promise<void>
  /** How long an event may take to arrive; default 2 s. */
  readonly patienceMs?: number
  readonly cleanup?: () => Promise<void>
}

type Heard = ContainerEvent | "gap"

interface Listener {
  readonly heard: Array<Heard>
  readonly subscription: EventSubscription
  /** What was heard of container `id` (its events' kinds) and every gap, in order. */
  of(id: string): ReadonlyArray<string>
}

const suffix = () => Math.random().toString(36).slice(2, 8)

/** Behaviour every ContainerEvents must have; run on the fake, on the fake Docker API, and on the real engine. */
export const containerEventsContract = (label: string, setup: () => Promise<ContainerEventsSubject>, options: { readonly timeoutMs?: number } = {}): void => {
  describe(`ContainerEvents contract: ${label}`, () => {
    const timeout = options.timeoutMs
    const withSubject = (body: (s: ContainerEventsSubject, listen: () => Promise<Listener>) => Promise<void>) =>
      freshSubject(setup)(async (s) => {
        const open: Array<EventSubscription> = []
        const listen = async (): Promise<Listener> => {
          const heard: Array<Heard> = []
          const subscription = await run(s.events.subscribe({ onEvent: (e) => heard.push(e), onGap: () => heard.push("gap") }))
          open.push(subscription)
          const of = (id: string) => heard.flatMap((h) => (h === "gap" ? ["gap"] : h.containerId === id ? [h.kind] : []))
          return { heard, subscription, of }
        }
        try {
          await body(s, listen)
        } finally {
          for (const subscription of open) await run(subscription.unsubscribe)
        }
      })
    const patience = (s: ContainerEventsSubject) => ({ timeout: s.patienceMs ?? 2_000, interval: 20 })
    const eventsOf = (l: Listener, id: string) => l.heard.filter((h): h is ContainerEvent => h !== "gap" && h.containerId === id)

    it(
      "reports a managed container's start, pause, unpause, death by SIGKILL and removal in order, each with its instance name and time",
      withSubject(async (s, listen) => {
        const name = `contract ${suffix()}`
        const l = await listen()
        const before = Date.now()
        const id = await s.managed(name)
        await s.start(id)
        await s.pause(id)
        await s.unpause(id)
        await s.kill(id)
        await s.remove(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["start", "pause", "unpause", "die", "destroy"])
        const events = eventsOf(l, id)
        expect(events.map((e) => e.name)).toEqual(events.map(() => name))
        expect(events.map((e) => e.exitCode)).toEqual([null, null, null, 137, null])
        const times = events.map((e) => e.at)
        expect(times).toEqual([...times].sort((a, b) => a - b))
        expect(times[0]).toBeGreaterThanOrEqual(before - 1_000)
        expect(times.at(-1)).toBeLessThanOrEqual(Date.now() + 1_000)
      }),
      timeout,
    )

    it(
      "reports the exit code a process exits with by itself",
      withSubject(async (s, listen) => {
        const l = await listen()
        const id = await s.managed(`contract ${suffix()}`, { exitsWith: 3 })
        await s.start(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["start", "die"])
        expect(eventsOf(l, id)[1]?.exitCode).toBe(3)
      }),
      timeout,
    )

    it(
      "reports a container that runs out of memory, then its death",
      withSubject(async (s, listen) => {
        const l = await listen()
        const id = await s.managed(`contract ${suffix()}`, "exhausts_memory")
        await s.start(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["start", "oom", "die"])
        expect(eventsOf(l, id)[2]?.exitCode).toBe(137)
      }),
      timeout,
    )

    it(
      "reports a running container that is removed as dead, then removed",
      withSubject(async (s, listen) => {
        const l = await listen()
        const id = await s.managed(`contract ${suffix()}`)
        await s.start(id)
        await s.remove(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["start", "die", "destroy"])
      }),
      timeout,
    )

    it(
      "says nothing of containers it does not manage",
      withSubject(async (s, listen) => {
        const l = await listen()
        const foreign = await s.foreign(`contract-foreign ${suffix()}`)
        await s.start(foreign)
        await s.kill(foreign)
        await s.remove(foreign)
        const marker = await s.managed(`contract ${suffix()}`)
        await s.start(marker)
        await expect.poll(() => l.of(marker), patience(s)).toEqual(["start"])
        expect(l.heard.filter((h) => h === "gap" || h.containerId !== marker)).toEqual([])
      }),
      timeout,
    )

    it(
      "stops calling a subscriber once it unsubscribes, gaps included, while others still hear",
      withSubject(async (s, listen) => {
        const [gone, staying] = [await listen(), await listen()]
        const id = await s.managed(`contract ${suffix()}`)
        await s.start(id)
        await expect.poll(() => [gone.of(id), staying.of(id)], patience(s)).toEqual([["start"], ["start"]])
        await run(gone.subscription.unsubscribe)
        await run(gone.subscription.unsubscribe)
        await s.kill(id)
        await expect.poll(() => staying.of(id), patience(s)).toEqual(["start", "die"])
        await s.breakFeed()
        await s.restoreFeed()
        await expect.poll(() => staying.of(id), patience(s)).toEqual(["start", "die", "gap"])
        expect(gone.heard.map((h) => (h === "gap" ? h : h.kind))).toEqual(["start"])
      }),
      timeout,
    )

    it(
      "reports a gap once the feed is back after a break, then carries on without repeating what it passed on",
      withSubject(async (s, listen) => {
        const l = await listen()
        const id = await s.managed(`contract ${suffix()}`)
        await s.start(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["start"])
        await s.breakFeed()
        // What happens during the break may be replayed after the gap, or lost: the gap says to re-read.
        await s.pause(id)
        await s.restoreFeed()
        await expect.poll(() => l.of(id).includes("gap"), patience(s)).toBe(true)
        await s.unpause(id)
        await s.kill(id)
        await expect.poll(() => l.of(id).at(-1), patience(s)).toBe("die")
        expect([
          ["start", "gap", "unpause", "die"],
          ["start", "gap", "pause", "unpause", "die"],
        ]).toContainEqual(l.of(id))
      }),
      timeout,
    )

    it(
      "reports a gap to a subscription made while the feed was down, once it is back",
      withSubject(async (s, listen) => {
        await s.breakFeed()
        const l = await listen()
        await s.restoreFeed()
        await expect.poll(() => l.heard, patience(s)).toEqual(["gap"])
        const id = await s.managed(`contract ${suffix()}`)
        await s.start(id)
        await expect.poll(() => l.of(id), patience(s)).toEqual(["gap", "start"])
      }),
      timeout,
    )
  })
}
