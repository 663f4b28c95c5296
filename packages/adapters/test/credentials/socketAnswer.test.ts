import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { tokenDocumentOf, type OAuthCredential } from "@dtma/domain"
import { socketAnswerOf } from "../../src/credentials/socketAnswer.ts"

const c = (connectionId: string, provider: string): OAuthCredential => ({
  connectionId,
  provider,
  accessToken: Redacted.make(`tok-${connectionId}`),
  tokenType: "Bearer",
  expiresAt: 0,
  scopes: [],
})
const credentials = [c("a", "github"), c("b", "github"), c("d", "google drive")]

describe("socketAnswerOf", () => {
  it.each([
    ["GET", "/v1/credentials", 200, { credentials: credentials.map(tokenDocumentOf) }],
    ["GET", "/v1/credentials/", 200, { credentials: credentials.map(tokenDocumentOf) }],
    ["GET", "/v1/credentials?fresh=1", 200, { credentials: credentials.map(tokenDocumentOf) }],
    ["GET", "/v1/credentials/github", 200, tokenDocumentOf(credentials[0]!)],
    ["GET", "/v1/credentials/google%20drive", 200, tokenDocumentOf(credentials[2]!)],
    ["GET", "/v1/credentials/slack", 404, expect.objectContaining({ error: "not_found" })],
    ["GET", "/v1/credentials/%E0%A4%A", 404, expect.objectContaining({ error: "not_found" })],
    ["GET", "/", 404, expect.objectContaining({ error: "not_found" })],
    ["POST", "/v1/credentials", 405, expect.objectContaining({ error: "method_not_allowed" })],
    ["DELETE", "/v1/credentials/github", 405, expect.objectContaining({ error: "method_not_allowed" })],
  ])("%s %s answers %i", (method, url, status, body) => {
    expect(socketAnswerOf(method, url, credentials)).toMatchObject({ status, body })
  })
})
