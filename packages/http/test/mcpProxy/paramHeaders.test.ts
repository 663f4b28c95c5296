import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { JsonRpcRequest } from "@dtma/domain"
import { encodeHeaderValue, makeToolParamHeaders, paramHeadersOf, type ParamHeaders } from "@dtma/adapters"
import { modernListable, paramHeadersProblem, toolCallHeadersRefusal } from "../../src/mcpProxy/paramHeaders.ts"
import { encoded } from "../support/modernHeaders.ts"

// The `Mcp-Param-{Name}` check of MCP 2026-07-28 (streamable-http.mdx, "Custom Headers from Tool
// Parameters", "Server Validation"): random annotated schemas and arguments, the headers a correct
// client builds for them (the spec's "Value Encoding", written out here independently), and every
// single way of getting them wrong.

type Primitive = "string" | "integer" | "boolean"
type Shape = { readonly leaf: Primitive; readonly annotated: boolean } | { readonly object: ReadonlyArray<readonly [string, Shape]> }
interface Leaf {
  readonly path: ReadonlyArray<string>
  readonly type: Primitive
  readonly name: string | null
}

const arbShape: fc.Arbitrary<Shape> = fc.letrec<{ shape: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ leaf: fc.constantFrom<Primitive>("string", "integer", "boolean"), annotated: fc.boolean() }),
    fc.record({ object: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,5}$/), tie("shape")), { selector: ([k]) => k, maxLength: 4 }) }),
  ),
})).shape

const TOKENS = fc.uniqueArray(fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/), { selector: (s) => s.toLowerCase(), minLength: 64, maxLength: 64 })

/** The schema of a shape, its header names taken from `names` in order, and its leaves. */
interface Annotated {
  readonly schema: Readonly<Record<string, unknown>>
  readonly leaves: Array<Leaf>
}

const schemaOf = (shape: Shape, names: Array<string>, path: ReadonlyArray<string> = [], leaves: Array<Leaf> = []): Annotated => {
  if ("leaf" in shape) {
    const name = shape.annotated ? (names.shift() ?? null) : null
    leaves.push({ path, type: shape.leaf, name })
    return { schema: { type: shape.leaf, ...(name === null ? {} : { "x-mcp-header": name }) }, leaves }
  }
  const properties: Record<string, unknown> = Object.fromEntries(
    shape.object.map(([key, child]) => [key, schemaOf(child, names, [...path, key], leaves).schema]),
  )
  return { schema: { type: "object", properties }, leaves }
}

const arbValue = (type: Primitive): fc.Arbitrary<unknown> =>
  type === "string"
    ? fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.constantFrom(" padded ", "line1\nline2", "=?base64?literal?=", "", "42"))
    : type === "integer"
      ? fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 })
      : fc.boolean()

/** Absent, null, or a value of the leaf's type. */
type Slot = { readonly absent: true } | { readonly absent: false; readonly value: unknown }

const arbSlot = (type: Primitive): fc.Arbitrary<Slot> =>
  fc.oneof(
    fc.constant<Slot>({ absent: true }),
    fc.constant<Slot>({ absent: false, value: null }),
    arbValue(type).map((value): Slot => ({ absent: false, value })),
    arbValue(type).map((value): Slot => ({ absent: false, value })),
  )

const setAt = (root: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown): void => {
  let node = root
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>
  node[path.at(-1)!] = value
}

/** A value as the spec's "Value Encoding" puts it in a header. */
const wire = (value: unknown): string => encoded(typeof value === "string" ? value : String(value))

const arbCall = fc
  .tuple(arbShape, TOKENS)
  .filter(([shape]) => !("leaf" in shape))
  .chain(([shape, tokens]) => {
    const { schema, leaves } = schemaOf(shape, [...tokens])
    return fc.tuple(...leaves.map((l: Leaf) => arbSlot(l.type))).map((slots: ReadonlyArray<Slot>) => {
      const args: Record<string, unknown> = {}
      const headers: Record<string, string> = {}
      leaves.forEach((leaf: Leaf, i: number) => {
        const slot = slots[i]!
        if (slot.absent) return
        setAt(args, leaf.path, slot.value)
        if (leaf.name !== null && slot.value !== null) headers[`mcp-param-${leaf.name.toLowerCase()}`] = wire(slot.value)
      })
      return { schema, leaves, args, headers }
    })
  })

const requestOf = (args: unknown): JsonRpcRequest => ({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "t", arguments: args } })

const codeOf = (schema: unknown, args: unknown, headers: Record<string, string>) => {
  const refusal = toolCallHeadersRefusal({ name: "t", inputSchema: schema }, requestOf(args), headers)
  return refusal === null
    ? null
    : { status: refusal.status, id: (refusal.body as { id: unknown }).id, code: (refusal.body as { error: { code: number } }).error.code }
}

const REFUSED = { status: 400, id: 7, code: -32020 }

const valueAt = (root: unknown, path: ReadonlyArray<string>): unknown => path.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], root)

/** The annotated leaves whose value the body carries, and those it does not. */
const annotated = (call: { leaves: ReadonlyArray<Leaf>; args: unknown }) => {
  const named = call.leaves.filter((l: Leaf): l is Leaf & { name: string } => l.name !== null)
  const carried = named.filter((l) => valueAt(call.args, l.path) !== undefined && valueAt(call.args, l.path) !== null)
  return { carried, missing: named.filter((l) => !carried.includes(l)) }
}

const key = (leaf: { name: string }) => `mcp-param-${leaf.name.toLowerCase()}`

/** A different value of the same type: its header text differs, numerically too. */
const other = (value: unknown): unknown => (typeof value === "string" ? `${value}x` : typeof value === "number" ? value + (value > 0 ? -1 : 1) : !value)

describe("the Mcp-Param header check", () => {
  it("accepts the headers a correct client builds, whatever the schema and the arguments", () => {
    fc.assert(
      fc.property(arbCall, ({ schema, args, headers }) => {
        expect(paramHeadersOf(schema).valid).toBe(true)
        expect(codeOf(schema, args, headers)).toBeNull()
      }),
      { numRuns: 1000 },
    )
  })

  it("refuses with 400 and -32020 any one header dropped, changed, added for a value the body lacks, or holding a control character", () => {
    const arbMutated = arbCall
      .filter((c) => annotated(c).carried.length + annotated(c).missing.length > 0)
      .chain((c) => {
        const { carried, missing } = annotated(c)
        const ways = [...(carried.length === 0 ? [] : (["drop", "change", "control"] as const)), ...(missing.length === 0 ? [] : (["add"] as const))]
        return fc.tuple(fc.constant(c), fc.constantFrom(...ways), fc.nat())
      })
    fc.assert(
      fc.property(arbMutated, ([call, way, pick]) => {
        const { carried, missing } = annotated(call)
        const headers = { ...call.headers }
        const target = way === "add" ? missing[pick % missing.length]! : carried[pick % carried.length]!
        if (way === "drop") delete headers[key(target)]
        if (way === "change") headers[key(target)] = wire(other(valueAt(call.args, target.path)))
        if (way === "add") headers[key(target)] = "us-west1"
        if (way === "control") headers[key(target)] = `${headers[key(target)]}\u0001`
        expect(codeOf(call.schema, call.args, headers)).toEqual(REFUSED)
      }),
      { numRuns: 1000 },
    )
  })

  it("ignores headers no annotation names", () => {
    fc.assert(
      fc.property(arbCall, fc.stringMatching(/^[a-z]{1,8}$/), fc.string(), ({ schema, args, headers, leaves }, name, value) => {
        fc.pre(!leaves.some((l) => l.name?.toLowerCase() === name))
        expect(codeOf(schema, args, { ...headers, [`mcp-param-${name}`]: value })).toBeNull()
      }),
    )
  })

  it("compares an integer numerically, decodes =?base64?…?=, and looks the header up whatever its case was", () => {
    const schema = {
      type: "object",
      properties: {
        n: { type: "integer", "x-mcp-header": "Count" },
        where: { type: "object", properties: { r: { type: "string", "x-mcp-header": "Region" } } },
      },
    }
    const args = { n: 42, where: { r: "Hello, 世界" } }
    expect(codeOf(schema, args, { "mcp-param-count": "42.0", "mcp-param-region": "=?base64?SGVsbG8sIOS4lueVjA==?=" })).toBeNull()
    expect(codeOf(schema, args, { "mcp-param-count": "42", "mcp-param-region": "Hello, 世界" })).toEqual(REFUSED)
    expect(codeOf(schema, args, { "mcp-param-count": "43", "mcp-param-region": "=?base64?SGVsbG8sIOS4lueVjA==?=" })).toEqual(REFUSED)
    expect(codeOf(schema, args, { "mcp-param-count": "42", "mcp-param-region": "=?base64?not base64?=" })).toEqual(REFUSED)
  })

  it("says which header is wrong and how, never its value", () => {
    const schema = { type: "object", properties: { token: { type: "string", "x-mcp-header": "Tenant" } } }
    const problem = (headers: Record<string, string>, args: unknown = { token: "acme-secret" }) =>
      paramHeadersProblem((paramHeadersOf(schema) as Extract<ParamHeaders, { valid: true }>).headers, args, headers)
    expect(problem({})).toBe("the Mcp-Param-Tenant header is required: the body carries arguments.token")
    expect(problem({ "mcp-param-tenant": "other-secret" })).toBe("the Mcp-Param-Tenant header does not match the body's arguments.token")
    expect(problem({ "mcp-param-tenant": "x" }, {})).toBe(
      "the Mcp-Param-Tenant header was sent, but the body carries no value at arguments.token that it could mirror",
    )
    expect(problem({ "mcp-param-tenant": "acme-secret" })).toBeNull()
    expect(problem({}, { token: null })).toBeNull()
  })

  it("finds a tool invalid when an annotation breaks a constraint, and lists it to no 2026-07-28 client", () => {
    const prop = (extra: Record<string, unknown>) => ({ type: "object", properties: { a: { type: "string", ...extra } } })
    const invalid = [
      prop({ "x-mcp-header": "" }),
      prop({ "x-mcp-header": "Has Space" }),
      prop({ "x-mcp-header": "Line\nBreak" }),
      prop({ "x-mcp-header": 3 }),
      prop({ type: "number", "x-mcp-header": "N" }),
      prop({ type: "object", "x-mcp-header": "O" }),
      prop({ type: ["string", "null"], "x-mcp-header": "U" }),
      { type: "object", properties: { a: { type: "string", "x-mcp-header": "Dup" }, b: { type: "string", "x-mcp-header": "dUP" } } },
      { type: "object", "x-mcp-header": "Root" },
      { type: "object", properties: { a: { type: "array", items: { type: "string", "x-mcp-header": "I" } } } },
      { type: "object", anyOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }] },
      { type: "object", $defs: { d: { type: "string", "x-mcp-header": "D" } }, properties: { a: { $ref: "#/$defs/d" } } },
      { type: "object", if: { properties: { a: { type: "string", "x-mcp-header": "If" } } } },
    ]
    for (const schema of invalid) {
      expect([JSON.stringify(schema), paramHeadersOf(schema).valid]).toEqual([JSON.stringify(schema), false])
      expect(modernListable({ name: "t", inputSchema: schema })).toBe(false)
      // Nothing to check the headers against: a call of it is left to the server.
      expect(codeOf(schema, { a: "x" }, {})).toBeNull()
    }
    expect(modernListable({ name: "t", inputSchema: prop({ "x-mcp-header": "Region" }) })).toBe(true)
    expect(modernListable({ name: "t", inputSchema: { type: "object", properties: { "x-mcp-header": { type: "string" } } } })).toBe(true)
    expect(modernListable({ name: "t" })).toBe(true)
  })
})

describe("the Mcp-Param headers the DTMA sends a 2026-07-28 server over Streamable HTTP", () => {
  /** The registry of a channel that saw `tools` listed. */
  const listed = (tools: ReadonlyArray<unknown>) => {
    const params = makeToolParamHeaders(encodeHeaderValue)
    params.sent({ jsonrpc: "2.0", id: 3, method: "tools/list" })
    params.saw({ jsonrpc: "2.0", id: 3, result: { tools } })
    return params
  }
  const lowered = (headers: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))

  it("are exactly the ones a correct client builds for the call, learned from the tool's listing, and pass the DTMA's own check", () => {
    fc.assert(
      fc.property(arbCall, (call) => {
        const sent = lowered(listed([{ name: "t", inputSchema: call.schema }]).headersOf("t", call.args))
        expect(sent).toEqual(call.headers)
        expect(codeOf(call.schema, call.args, sent)).toBeNull()
      }),
      { numRuns: 1000 },
    )
  })

  it("are none for a tool not listed, one whose annotations are invalid, or a listing that was not asked for", () => {
    const schema = { type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" } } }
    const params = listed([
      { name: "ok", inputSchema: schema },
      { name: "bad", inputSchema: { ...schema, items: { "x-mcp-header": "X", type: "string" } } },
    ])
    expect(params.headersOf("ok", { region: "eu" })).toEqual({ "Mcp-Param-Region": "eu" })
    expect(params.headersOf("bad", { region: "eu" })).toEqual({})
    expect(params.headersOf("other", { region: "eu" })).toEqual({})
    params.saw({ jsonrpc: "2.0", id: 9, result: { tools: [{ name: "late", inputSchema: schema }] } })
    expect(params.headersOf("late", { region: "eu" })).toEqual({})
  })
})
