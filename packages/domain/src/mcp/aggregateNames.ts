/**
 * SHA-256 of some bytes. The domain has no platform crypto: the edge hands it in (Node's
 * `createHash("sha256")`), rather than the domain carrying a hand-written one.
 */
export type Sha256 = (bytes: Uint8Array) => Uint8Array

/**
 * The names and URIs an agent sees on `/mcp`, where many servers are listed as one.
 *
 * Tools and prompts: `listedNameOf(server, name)`, a pure function of the pair, so a name never changes
 * when servers are granted or removed, nor across restarts. It has two forms:
 * - plain, `<server>__<name>`, when nothing is lost: the server is made of `[A-Za-z0-9_-]`, holds no
 *   `__` and does not end in `_`; the name is made of `[A-Za-z0-9_-]`; the whole fits in 64 characters;
 *   and it does not end the way a hashed name does (`_`, a digit, 11 characters of `[0-9a-v]`).
 *   `memory__read_graph` stays `memory__read_graph`.
 * - hashed, in every other case: `<server>__<name>` with each character outside `[A-Za-z0-9_-]` made
 *   `_`, cut to 51 characters, then `_` and 12 characters of the SHA-256 of the exact pair.
 *
 * Why no two distinct pairs share a name:
 * - two plain names: the server holds no `__` and does not end in `_`, so the first `__` of a plain
 *   name is where its server ends; the pair reads back from the name.
 * - a plain and a hashed name: never; a plain name never ends like a hashed one.
 * - two hashed names: only if 58 bits of SHA-256 of two different inputs agree (the input encodes the
 *   pair injectively, lone surrogates included). By chance, with n hashed names, about n²/2^59: 2·10^-10
 *   for ten thousand. On purpose (a server naming a tool to shadow another server's): a search of about
 *   2^58 hashes per name aimed at. A weaker hash (FNV) would make that search cheap.
 *
 * Resources: a URI no other granted server offers is listed as it is; otherwise, and for every URI
 * that itself starts with `dtma:`, as `dtma://<percent-encoded server>/<the URI as the server gave it>`.
 * The URI is appended unencoded, so a resource template wrapped that way still expands to the URI the
 * server's own template gives, after the prefix. Resource templates are always wrapped: an agent's
 * expansion of one then always names its server, whatever templates other servers offer.
 */

export const MAX_LISTED_NAME_LENGTH = 64
export const LISTED_NAME = /^[A-Za-z0-9_-]{1,64}$/

const SAFE = /^[A-Za-z0-9_-]+$/
const UNSAFE = /[^A-Za-z0-9_-]/gu
const SUFFIX_LENGTH = 12
const HASHED_ENDING = /_[0-9][0-9a-v]{11}$/

const isPlainServer = (server: string): boolean => SAFE.test(server) && !server.includes("__") && !server.endsWith("_")

/** The pair as bytes, injectively: the server's length, then both as UTF-16 code units. */
const pairBytes = (server: string, name: string): Uint8Array => {
  const text = server + name
  const bytes = new Uint8Array(4 + text.length * 2)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, server.length)
  for (let i = 0; i < text.length; i++) view.setUint16(4 + i * 2, text.charCodeAt(i))
  return bytes
}

/** `_`, a digit and 11 base-32 digits (58 bits) of the pair's SHA-256; the leading digit makes ordinary names unlikely to look hashed. */
const suffixOf = (sha256: Sha256, server: string, name: string): string => {
  const digest = sha256(pairBytes(server, name))
  const rest = digest.slice(1, 8).reduce((n, byte) => (n << 8n) | BigInt(byte), 0n) >> 1n
  return `_${digest[0]! % 10}${rest.toString(32).padStart(SUFFIX_LENGTH - 1, "0")}`
}

/** The name a tool or prompt of `server` is listed under on `/mcp`, hashing with `sha256`; always matches {@link LISTED_NAME}. */
export const listedNames =
  (sha256: Sha256) =>
  (server: string, name: string): string => {
    const plain = `${server}__${name}`
    if (isPlainServer(server) && SAFE.test(name) && plain.length <= MAX_LISTED_NAME_LENGTH && !HASHED_ENDING.test(plain)) return plain
    const readable = plain.replace(UNSAFE, "_").slice(0, MAX_LISTED_NAME_LENGTH - SUFFIX_LENGTH - 1)
    return readable + suffixOf(sha256, server, name)
  }

const WRAPPED_SCHEME = "dtma://"
const RESERVED_SCHEME = /^dtma:/i

/** Percent-encoding of a server name that never fails: a lone surrogate is encoded as its three WTF-8 bytes. */
export const uriSegmentOf = (server: string): string => {
  let out = ""
  for (const ch of server) {
    const unit = ch.charCodeAt(0)
    const lone = ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff
    out += lone
      ? [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join("")
      : encodeURIComponent(ch)
  }
  return out
}

/** Whether a URI can be listed as it is when no other server offers it (it does not look wrapped). */
export const mayKeepUri = (uri: string): boolean => !RESERVED_SCHEME.test(uri)

/** A resource URI or template of `server`, wrapped so that it names its server. */
export const wrappedUriOf = (server: string, uri: string): string => `${WRAPPED_SCHEME}${uriSegmentOf(server)}/${uri}`

/** The server segment and the server's own URI of a wrapped URI, or null when it is not one. */
export const unwrapUri = (listed: string): { readonly segment: string; readonly uri: string } | null => {
  if (!listed.startsWith(WRAPPED_SCHEME)) return null
  const slash = listed.indexOf("/", WRAPPED_SCHEME.length)
  return slash < 0 ? null : { segment: listed.slice(WRAPPED_SCHEME.length, slash), uri: listed.slice(slash + 1) }
}
