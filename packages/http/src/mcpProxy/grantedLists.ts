import { ruleAllows, type NameRule, type ServerAccess } from "@dtma/domain"

type Result = Readonly<Record<string, unknown>>

/** Which item of a list page the access lets through; `none` when no item ever could. */
interface Shown {
  readonly item: (item: unknown) => boolean
  readonly none: boolean
}

const nameOf = (item: unknown): string | null => {
  const name = typeof item === "object" && item !== null ? (item as Record<string, unknown>)["name"] : undefined
  return typeof name === "string" ? name : null
}

const byName = (rule: NameRule): Shown => ({
  item: (item) => {
    const name = nameOf(item)
    return name !== null && ruleAllows(rule, name)
  },
  none: rule.exact.size === 0 && rule.prefixes.length === 0,
})

const allOrNone = (allowed: boolean): Shown => ({ item: () => allowed, none: !allowed })

/** The list methods, the field of their result holding the page, and what the access shows of it. */
const LISTS: ReadonlyMap<string, { readonly field: string; readonly shown: (access: ServerAccess) => Shown }> = new Map([
  ["tools/list", { field: "tools", shown: (a: ServerAccess) => byName(a.tools) }],
  ["prompts/list", { field: "prompts", shown: (a: ServerAccess) => byName(a.prompts) }],
  ["resources/list", { field: "resources", shown: (a: ServerAccess) => allOrNone(a.resources) }],
  ["resources/templates/list", { field: "resourceTemplates", shown: (a: ServerAccess) => allOrNone(a.resources) }],
])

/**
 * The result of a list request (`tools/list`, `prompts/list`, `resources/list`,
 * `resources/templates/list`) as `access` shows it: the page's granted items in their order, every
 * other field as the server sent it, `nextCursor` included, so that paging goes on through the
 * server's pages. When the access can show no item at all, there is nothing to page through and
 * `nextCursor` goes too: the answer of a server that has none. A page that is not an array shows
 * nothing. Any other method's result is returned as it is.
 */
export const grantedListResult = (method: string, result: Result, access: ServerAccess): Result => {
  const list = LISTS.get(method)
  if (list === undefined) return result
  const shown = list.shown(access)
  const page = result[list.field]
  const items = Array.isArray(page) ? page.filter(shown.item) : []
  const { nextCursor: _, ...rest } = result
  return shown.none ? { ...rest, [list.field]: items } : { ...result, [list.field]: items }
}
