import type { ContainerEvent, ContainerEventKind, ContainerState, ManagedContainer } from "@dtma/domain"

/** A managed container as Docker's list call shows it: enough to tell whether what is kept of it still holds. */
export interface ListedContainer {
  readonly id: string
  readonly state: string
}

/** Of the containers Docker lists, those known current (by id) and the ids to inspect. */
export interface ListPlan {
  readonly current: ReadonlyMap<string, ManagedContainer>
  readonly inspect: ReadonlyArray<string>
}

/**
 * Whether a container last seen in `state` already shows an event of `kind`, which then changes
 * nothing: events come in order, so a later change would have brought an event of its own first.
 */
export const reflects = (state: ContainerState, kind: ContainerEventKind): boolean => {
  switch (kind) {
    case "start":
      return state === "running" || state === "paused"
    case "die":
    case "oom":
      return state === "exited" || state === "dead"
    case "pause":
      return state === "paused"
    case "unpause":
      return state === "running"
    case "destroy":
      return false
  }
}

/**
 * What is known of each managed container, and whether it is current: kept current by container
 * events, so that a list inspects only what changed. Every event and gap moves a clock; an inspect
 * is stamped with the clock before it is made, and what it found is current only while no event of
 * its container (nor a gap) has come since. No I/O: the runtime feeds it.
 */
export interface ContainerInventory {
  /** The stamp of an inspect of `id` about to be made, for `put`. */
  stamp(id: string): number
  /** What an inspect stamped `stamp` found; kept unless something newer is, current unless an event came since. */
  put(container: ManagedContainer, stamp: number): void
  /** A container known only from what the runtime did (it created it): kept, never current. */
  note(container: ManagedContainer): void
  /** What is known of `id`, current or not (its name, kind and settings never change). */
  known(id: string): ManagedContainer | undefined
  forget(id: string): void
  /** An event makes its container's entry stale, unless the entry already shows it. */
  event(event: Pick<ContainerEvent, "kind" | "containerId">): void
  /** Events may have been missed: nothing kept is current. */
  gap(): void
  /** A mark taken just before asking Docker for its list, for `plan`. */
  mark(): number
  /**
   * Sorts Docker's list, asked for after `mark`: the containers kept current in the state Docker
   * shows (answered as kept), and the ids to inspect. Forgets the containers the list does not show,
   * except those heard of since the mark (created after Docker made its list).
   */
  plan(listed: ReadonlyArray<ListedContainer>, mark: number): ListPlan
}

export const makeContainerInventory = (): ContainerInventory => {
  /** `at`: when the entry was last set, for `plan`. */
  const entries = new Map<string, { container: ManagedContainer; stamp: number; at: number }>()
  /** When each container last had an event; absent: not since the last gap (or the last list that did not show it). */
  const touched = new Map<string, number>()
  let clock = 0
  let lastGap = 0

  const versionOf = (id: string): number => Math.max(touched.get(id) ?? 0, lastGap)
  const isCurrent = (id: string): boolean => entries.get(id)?.stamp === versionOf(id)

  return {
    stamp: versionOf,
    put: (container, stamp) => {
      const kept = entries.get(container.containerId)
      // Two inspects of one container: the one stamped later wins, whichever answers last.
      if (kept === undefined || kept.stamp <= stamp) entries.set(container.containerId, { container, stamp, at: ++clock })
    },
    note: (container) => {
      if (!entries.has(container.containerId)) entries.set(container.containerId, { container, stamp: -1, at: ++clock })
    },
    known: (id) => entries.get(id)?.container,
    forget: (id) => {
      entries.delete(id)
      touched.set(id, ++clock)
    },
    event: ({ kind, containerId }) => {
      const kept = entries.get(containerId)
      const stillHolds = kept !== undefined && isCurrent(containerId) && reflects(kept.container.state, kind)
      touched.set(containerId, ++clock)
      if (kind === "destroy") entries.delete(containerId)
      else if (stillHolds) kept.stamp = clock
    },
    gap: () => {
      lastGap = ++clock
      touched.clear()
    },
    mark: () => ++clock,
    plan: (listed, mark) => {
      const ids = new Set(listed.map((c) => c.id))
      for (const [id, entry] of entries) if (!ids.has(id) && entry.at < mark) entries.delete(id)
      for (const [id, at] of touched) if (!ids.has(id) && at < mark) touched.delete(id)
      const current = new Map<string, ManagedContainer>()
      const inspect: Array<string> = []
      for (const { id, state } of listed) {
        const kept = entries.get(id)
        // Docker's list shows the state as of now: a change whose event is still on its way shows there.
        if (kept !== undefined && isCurrent(id) && kept.container.state === state) current.set(id, kept.container)
        else inspect.push(id)
      }
      return { current, inspect }
    },
  }
}
