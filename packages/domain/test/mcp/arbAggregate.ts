import fc from "fast-check"
import { accessTo, WILDCARD } from "../../src/access/grants.ts"
import type { GrantedServer } from "../../src/mcp/aggregateCatalog.ts"

/** Pieces that collide once sanitised (`.`, ` `, `é`, `😀` and a lone surrogate all become `_`), make `__`, or run long. */
export const arbPiece = fc.constantFrom("a", "b", "A", "0", "7", "_", "__", ".", "-", " ", "é", "😀", "\ud800", "x".repeat(30), "y".repeat(61))

/** A name ending like a hashed listed name: `_`, a digit, 11 characters of `[0-9a-v]`. */
const hashLike = fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^_[0-9][0-9a-v]{11}$/)).map(([a, b]) => a + b)

/** Server or item names: ordinary ones, near-collisions, unicode (lone surrogates too), 200 characters. */
export const arbAnyName: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.array(arbPiece, { maxLength: 6 }).map((ps) => ps.join("")) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_-]{0,24}$/) },
  { weight: 1, arbitrary: hashLike },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 200, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z_]{200}$/) },
)

export const arbPair = fc.tuple(arbAnyName, arbAnyName)

const arbUri = fc.oneof(fc.constantFrom("file:///a", "file:///b", "mem://x", "dtma://a/b", "DTMA:x", "s", ""), fc.string({ unit: "binary", maxLength: 12 }))
const arbTemplate = fc.constantFrom("file:///{path}", "mem://{id}/x", "t{?q}", "dtma://{x}/y", "plain")

const arbEntries = <K extends string>(key: K, values: fc.Arbitrary<string>) =>
  fc.array(
    values.map((v) => ({ [key]: v, name: `n-${v}`, _meta: { own: v } }) as Record<K | "name" | "_meta", unknown>),
    { maxLength: 5 },
  )

/** A pattern list drawn from the server's own names, as a grant would name them. */
const arbPatterns = (names: ReadonlyArray<string>) =>
  fc.oneof(
    fc.constant([WILDCARD]),
    fc.subarray([...names]),
    fc.subarray([...names]).map((ns) => ns.map((n) => `${n.slice(0, 1)}${WILDCARD}`)),
  )

const arbServer = (name: string): fc.Arbitrary<GrantedServer> =>
  fc
    .record({
      tools: fc.uniqueArray(arbAnyName, { maxLength: 5 }),
      prompts: fc.uniqueArray(arbAnyName, { maxLength: 3 }),
      resources: arbEntries("uri", arbUri),
      resourceTemplates: arbEntries("uriTemplate", arbTemplate),
      instructions: fc.option(fc.string({ minLength: 1 }), { nil: null }),
      available: fc.boolean(),
      everything: fc.boolean(),
    })
    .chain((o) =>
      fc.record({ tools: arbPatterns(o.tools), prompts: arbPatterns(o.prompts), resources: fc.boolean() }).map((grant): GrantedServer => {
        const access = accessTo([{ target: { server: name }, ...grant }], { name, accountToolInstanceId: null })!
        return {
          name,
          access: o.everything ? "everything" : access,
          available: o.available,
          offer: {
            tools: o.tools.map((t) => ({ name: t, description: `does ${t}`, _meta: { own: 1 } })),
            prompts: o.prompts.map((p) => ({ name: p })),
            resources: o.resources,
            resourceTemplates: o.resourceTemplates,
            instructions: o.instructions,
          },
        }
      }),
    )

/** One caller's granted servers, each with a different name. */
export const arbGrantedServers: fc.Arbitrary<ReadonlyArray<GrantedServer>> = fc
  .uniqueArray(arbAnyName, { maxLength: 5 })
  .chain((names) => fc.tuple(...names.map(arbServer)))
