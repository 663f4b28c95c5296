import * as Data from "effect/Data"
import * as Result from "effect/Result"

/**
 * Pages of a list answered from memory (`tools/list` and the like on `/mcp`). A cursor is opaque to
 * clients; here it is the index of the page's first item. A list that shrank after a `list_changed`
 * may leave a cursor past its end: that is an empty last page, not an error.
 */

export interface ListPage<T> {
  readonly items: ReadonlyArray<T>
  /** Absent on the last page. */
  readonly nextCursor: string | undefined
}

/** A cursor this module did not hand out. */
export class InvalidCursor extends Data.TaggedError("InvalidCursor")<{
  readonly cursor: string
}> {
  override get message(): string {
    return `Invalid cursor '${this.cursor.slice(0, 64)}': pass a nextCursor from a previous page, or none for the first page`
  }
}

const CURSOR = /^p(0|[1-9a-z][0-9a-z]{0,9})$/

const cursorOf = (index: number): string => `p${index.toString(36)}`

/** The page of `items` that starts at `cursor` (the first page when undefined), at most `size` items long (at least 1). */
export const pageOf = <T>(items: ReadonlyArray<T>, cursor: string | undefined, size: number): Result.Result<ListPage<T>, InvalidCursor> => {
  let start = 0
  if (cursor !== undefined) {
    const match = CURSOR.exec(cursor)
    if (match === null) return Result.fail(new InvalidCursor({ cursor }))
    start = Number.parseInt(match[1]!, 36)
  }
  const end = start + Math.max(1, Math.floor(size))
  return Result.succeed({ items: items.slice(start, end), nextCursor: end < items.length ? cursorOf(end) : undefined })
}
