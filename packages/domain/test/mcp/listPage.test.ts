import fc from "fast-check"
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { InvalidCursor, pageOf } from "../../src/mcp/listPage.ts"

/** Every page, following nextCursor from the first. */
const allPages = <T>(items: ReadonlyArray<T>, size: number) => {
  const pages: Array<ReadonlyArray<T>> = []
  let cursor: string | undefined
  do {
    const page = Result.getOrThrow(pageOf(items, cursor, size))
    pages.push(page.items)
    cursor = page.nextCursor
  } while (cursor !== undefined)
  return pages
}

describe("list pages", () => {
  it("cover the list once, in order, in pages of at most the page size, the last without a cursor", () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 60 }), fc.integer({ min: 1, max: 25 }), (items, size) => {
        const pages = allPages(items, size)
        expect(pages.flat()).toEqual(items)
        expect(pages.every((p) => p.length <= size)).toBe(true)
        expect(pages.slice(0, -1).every((p) => p.length === size)).toBe(true)
        expect(pages.length).toBe(Math.max(1, Math.ceil(items.length / size)))
      }),
    )
  })

  it("answer a cursor they did not hand out with InvalidCursor, not a throw", () => {
    fc.assert(
      fc.property(
        fc.string().filter((c) => !/^p(0|[1-9a-z][0-9a-z]{0,9})$/.test(c)),
        (cursor) => {
          const result = pageOf([1, 2, 3], cursor, 2)
          expect(Result.isFailure(result) && result.failure).toBeInstanceOf(InvalidCursor)
        },
      ),
    )
    for (const cursor of ["", "p", "p01", "P1", "p-1", "1", "p1.5", "pzzzzzzzzzzz"])
      expect(Result.isFailure(pageOf([1], cursor, 1)), `cursor ${cursor}`).toBe(true)
  })

  it("answer a cursor past the end of a list that shrank with an empty last page", () => {
    const cursor = Result.getOrThrow(pageOf([1, 2, 3, 4, 5], undefined, 4)).nextCursor
    expect(Result.getOrThrow(pageOf([1, 2], cursor, 4))).toEqual({ items: [], nextCursor: undefined })
  })
})
