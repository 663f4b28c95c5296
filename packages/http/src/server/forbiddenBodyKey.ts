/**
 * A JSON body holding a key that reaches for a prototype: `__proto__`, or `prototype` under
 * `constructor`. Neither is ever a field of this API, and a naive merge of either would change
 * every object of the process; the body is refused whole, naming where the key is.
 */
export class ForbiddenBodyKey extends Error {
  readonly status = 400
  readonly key: "__proto__" | "constructor.prototype"
  readonly path: string
  constructor(key: "__proto__" | "constructor.prototype", path: string) {
    super(`Forbidden key in JSON body: '${key}' is not allowed (at ${path})`)
    this.name = "ForbiddenBodyKey"
    this.key = key
    this.path = path
  }
}

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null

const pathOf = (parent: string, key: string | number): string => (typeof key === "number" ? `${parent}[${key}]` : parent === "" ? key : `${parent}.${key}`)

/** The first prototype-reaching key of a parsed JSON value, breadth first, or null. Only own keys count. */
export const forbiddenKeyOf = (value: unknown): ForbiddenBodyKey | null => {
  let level: Array<readonly [string, unknown]> = [["", value]]
  while (level.length > 0) {
    const next: Array<readonly [string, unknown]> = []
    for (const [path, node] of level) {
      if (!isObject(node)) continue
      if (Array.isArray(node)) {
        node.forEach((item: unknown, i) => next.push([pathOf(path, i), item]))
        continue
      }
      for (const [key, child] of Object.entries(node)) {
        if (key === "__proto__") return new ForbiddenBodyKey("__proto__", pathOf(path, key))
        if (key === "constructor" && isObject(child) && Object.hasOwn(child, "prototype")) {
          return new ForbiddenBodyKey("constructor.prototype", pathOf(pathOf(path, key), "prototype"))
        }
        next.push([pathOf(path, key), child])
      }
    }
    level = next
  }
  return null
}
