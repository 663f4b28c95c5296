import type { JsonRpcResponse } from "@dtma/domain"

// Answers whose JSON text is known before they are settled: a list page of `/mcp` is served from
// memory, the same page to every session of a token, so it is serialised and encoded once per page
// of a catalog rather than once per request (a catalog of hundreds of tools is a few hundred
// kilobytes of JSON), and written as the same bytes each time.

/** The JSON text of a message in pieces, each a string or bytes (UTF-8) encoded already. */
export type JsonChunks = ReadonlyArray<string | Uint8Array>

const texts = new WeakMap<JsonRpcResponse, JsonChunks>()

/** `response`, known to serialise to `chunks` (which, joined, must be `JSON.stringify(response)`). */
export const serialised = (response: JsonRpcResponse, chunks: JsonChunks): JsonRpcResponse => {
  texts.set(response, chunks)
  return response
}

/** The JSON text of `response`: the chunks it was given by {@link serialised}, or one string worked out now. */
export const jsonChunksOf = (response: JsonRpcResponse): JsonChunks => texts.get(response) ?? [JSON.stringify(response)]

export const byteLengthOf = (chunks: JsonChunks): number => chunks.reduce((n, c) => n + (typeof c === "string" ? Buffer.byteLength(c) : c.byteLength), 0)
