import { readFileSync } from "node:fs"
import { createSecureContext } from "node:tls"

/** Where the DTMA's own certificate and private key are (PEM); with them it serves HTTPS. */
export interface TlsSettings {
  /** `DTMA_TLS_CERT_FILE`: the certificate, with any intermediates after it. */
  readonly certFile: string
  /** `DTMA_TLS_KEY_FILE`: its private key, unencrypted. */
  readonly keyFile: string
}

/** The certificate and key, read; the key never leaves the server's secure context. */
export interface TlsMaterial {
  readonly cert: Buffer
  readonly key: Buffer
}

/** `DTMA_TLS_CERT_FILE` and `DTMA_TLS_KEY_FILE`: both (HTTPS) or neither (plain HTTP); one alone goes to `fail`. */
export const tlsSettingsOf = (get: (key: string) => string | undefined, fail: (problem: string) => never): TlsSettings | null => {
  const certFile = get("DTMA_TLS_CERT_FILE")
  const keyFile = get("DTMA_TLS_KEY_FILE")
  if (certFile === undefined && keyFile === undefined) return null
  if (certFile === undefined || keyFile === undefined) {
    const [given, missing] = certFile === undefined ? ["DTMA_TLS_KEY_FILE", "DTMA_TLS_CERT_FILE"] : ["DTMA_TLS_CERT_FILE", "DTMA_TLS_KEY_FILE"]
    return fail(`${given} is set but ${missing} is not: HTTPS needs both (or set neither for plain HTTP)`)
  }
  return { certFile, keyFile }
}

const codeOf = (error: unknown): string => (typeof error === "object" && error !== null && "code" in error ? String(error.code) : "unknown error")

const readPem = (setting: string, path: string, fail: (problem: string) => never): Buffer => {
  try {
    return readFileSync(path)
  } catch (error) {
    return fail(`${setting} ${path} cannot be read (${codeOf(error)})`)
  }
}

/**
 * Reads both files and checks that they make a usable server identity (PEM that parses, a key that
 * matches the certificate); a problem goes to `fail`, naming the setting and the path, never the
 * files' content.
 */
export const readTlsMaterial = (settings: TlsSettings, fail: (problem: string) => never): TlsMaterial => {
  const cert = readPem("DTMA_TLS_CERT_FILE", settings.certFile, fail)
  const key = readPem("DTMA_TLS_KEY_FILE", settings.keyFile, fail)
  let problem: string | null = null
  try {
    createSecureContext({ cert, key })
  } catch (error) {
    problem =
      error instanceof Error && /mismatch/i.test(error.message)
        ? "the key does not match the certificate"
        : "they are not a PEM certificate and its unencrypted private key"
  }
  if (problem !== null) return fail(`DTMA_TLS_CERT_FILE ${settings.certFile} and DTMA_TLS_KEY_FILE ${settings.keyFile} cannot serve HTTPS: ${problem}`)
  return { cert, key }
}
