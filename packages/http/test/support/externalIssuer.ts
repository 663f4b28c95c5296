import { once } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose"

/** An identity provider of a test's own: ES256 tokens, its public key served as a JWKS over loopback HTTP. */
export interface ExternalIssuer {
  /** Its `iss`. */
  readonly issuer: string
  readonly jwksUrl: string
  /** How many times the JWKS was fetched. */
  fetches(): number
  /** A token with these claims (`sub`, `aud`, grants…), signed by its key, valid for ten minutes, with `iss` unless the claims set one. */
  sign(claims: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

const KID = "ext-1"

export const startExternalIssuer = async (issuer: string): Promise<ExternalIssuer> => {
  const { publicKey, privateKey }: { publicKey: CryptoKey; privateKey: CryptoKey } = await generateKeyPair("ES256")
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: KID, alg: "ES256", use: "sig" }] })
  let fetches = 0
  const server = createServer((req, res) => {
    if (req.url !== "/jwks.json") return void res.writeHead(404).end()
    fetches++
    res.writeHead(200, { "content-type": "application/json" }).end(jwks)
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as AddressInfo
  return {
    issuer,
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    fetches: () => fetches,
    sign: (claims) =>
      new SignJWT({ iss: issuer, ...claims })
        .setProtectedHeader({ alg: "ES256", kid: KID, typ: "JWT" })
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(privateKey),
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}
