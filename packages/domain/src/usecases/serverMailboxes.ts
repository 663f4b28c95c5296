import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import type { McpServerView } from "../mcp/McpServerView.ts"
import type { ServerEvent, SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { Mailbox, Message } from "./serverInterpreter.ts"

export interface ServerMailboxesDeps {
  /** Starts a mailbox's fiber where the servers' background work lives. */
  readonly runFiber: (effect: Effect.Effect<void>) => unknown
  /** Applies one of the server's own events (`serverInterpreter.ts`). */
  readonly apply: (box: Mailbox, event: ServerEvent) => Effect.Effect<void, unknown>
  /** After each message: how the server stands in the lists may have changed. */
  readonly afterMessage: (box: Mailbox) => void
  /** The view a request answers with. */
  readonly viewOf: (server: SupervisedServer) => McpServerView
}

/**
 * Every instance name's mailbox, worked through by one fiber each: operator requests and the
 * server's own events go through it in order, so the server's state machine sees one at a time.
 * A mailbox ends once its name has no server and nothing waits.
 */
export const makeServerMailboxes = (deps: ServerMailboxesDeps) => {
  const mailboxes = new Map<string, Mailbox>()

  /** Works through the name's messages; ends once the name has no server and nothing waits. */
  const serve = (box: Mailbox) =>
    Effect.gen(function* () {
      for (;;) {
        const message = yield* Queue.take(box.inbox)
        if (message._tag === "Event") yield* deps.apply(box, message.event).pipe(Effect.catchCause(() => Effect.void))
        else {
          const exit = yield* Effect.exit(message.work)
          // Told before the request is answered: a client that deployed and then lists sees the new listing.
          deps.afterMessage(box)
          message.done(Exit.isFailure(exit) ? (exit as Exit.Exit<never, unknown>) : Exit.succeed(box.server === null ? null : deps.viewOf(box.server)))
        }
        deps.afterMessage(box)
        // Ending is synchronous with the check, so no request can slip in between.
        if (box.server === null && Queue.sizeUnsafe(box.inbox) === 0) {
          Queue.shutdownUnsafe(box.inbox)
          if (mailboxes.get(box.name) === box) mailboxes.delete(box.name)
          return
        }
      }
    })

  /**
   * The name's mailbox, made (and its fiber started) if it has none. The final look and the making
   * are one synchronous step, so two requests for a new name always share one mailbox.
   */
  const mailboxOf = (name: string): Effect.Effect<Mailbox> =>
    Effect.suspend(() => {
      const found = mailboxes.get(name)
      if (found !== undefined) return Effect.succeed(found)
      return Queue.unbounded<Message>().pipe(
        Effect.map((inbox) => {
          const raced = mailboxes.get(name)
          if (raced !== undefined) return raced
          const box: Mailbox = { name, inbox, server: null, life: null }
          mailboxes.set(name, box)
          deps.runFiber(serve(box))
          return box
        }),
      )
    })

  /**
   * Runs `work` in the name's mailbox, after whatever came before it, and answers the server's view
   * then (null: the name has no server). The mailbox carries any error: each operation says which
   * ones its work can raise.
   */
  const request = (name: string, work: (box: Mailbox) => Effect.Effect<void, unknown>): Effect.Effect<McpServerView | null, unknown> =>
    mailboxOf(name).pipe(
      Effect.flatMap((box) =>
        Effect.callback<McpServerView | null, unknown>((resume) => {
          // A mailbox that just ended takes nothing more: the request goes to the next one.
          const offered = Queue.offerUnsafe(box.inbox, { _tag: "Request", work: Effect.suspend(() => work(box)), done: (exit) => resume(exit) })
          if (!offered) resume(request(name, work))
        }),
      ),
    )

  return { mailboxes: mailboxes as ReadonlyMap<string, Mailbox>, request }
}

export type ServerMailboxes = ReturnType<typeof makeServerMailboxes>
