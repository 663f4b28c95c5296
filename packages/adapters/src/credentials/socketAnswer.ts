import { socketDocumentOf, tokenDocumentOf, type OAuthCredential } from "@dtma/domain"

export interface SocketAnswer {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

const PREFIX = "/v1/credentials"

/**
 * What the `runtime_api` socket answers: `GET /v1/credentials` all of the instance's credentials,
 * `GET /v1/credentials/<provider>` that provider's first one; 404 for anything else, 405 for a
 * method other than GET. Pure: the instance's current credentials are passed in.
 */
export const socketAnswerOf = (method: string, url: string, credentials: ReadonlyArray<OAuthCredential>): SocketAnswer => {
  const path = url.split("?")[0] ?? ""
  const known = path === PREFIX || path === `${PREFIX}/` || path.startsWith(`${PREFIX}/`)
  if (!known) return { status: 404, body: { error: "not_found", message: `no route ${path}; try GET ${PREFIX} or GET ${PREFIX}/<provider>` } }
  if (method !== "GET") return { status: 405, body: { error: "method_not_allowed", message: `${method} is not allowed; use GET` }, headers: { allow: "GET" } }
  if (path === PREFIX || path === `${PREFIX}/`) return { status: 200, body: socketDocumentOf(credentials) }
  const provider = safeDecode(path.slice(PREFIX.length + 1))
  const credential = credentials.find((c) => c.provider === provider)
  if (credential === undefined) return { status: 404, body: { error: "not_found", message: `no credential for provider ${JSON.stringify(provider)}` } }
  return { status: 200, body: tokenDocumentOf(credential) }
}

const safeDecode = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
