import { randomBytes } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Redacted from "effect/Redacted"
import { ConfigError, DEFAULT_CONFIG_FILE, parseConfigFile, resolveSettings, type Config, type ParsedConfigFile } from "./config.ts"
import { readTlsMaterial } from "./tlsSettings.ts"

const codeOf = (error: unknown): string | undefined => (typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined)

/** The config file's settings; a missing file is an empty one, an unreadable one is an error. */
export const readConfigFile = (path: string): ParsedConfigFile => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    if (codeOf(error) === "ENOENT") return { values: {}, badLines: [] }
    throw new ConfigError({ problem: `cannot read the config file ${path} (${codeOf(error) ?? "unknown error"})` })
  }
  return parseConfigFile(text)
}

export const API_TOKEN_FILE = "api-token"

/**
 * The inbound token kept in `<stateDir>/api-token` (0600, directory 0700): the one already there,
 * or a new random one written there.
 */
export const ensureApiToken = (stateDir: string): { readonly token: Redacted.Redacted<string>; readonly path: string } => {
  const path = join(stateDir, API_TOKEN_FILE)
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 })
    const existing = readExisting(path)
    if (existing !== null) {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
      return { token: Redacted.make(existing), path }
    }
    const token = randomBytes(32).toString("base64url")
    writeFileSync(path, `${token}\n`, { mode: 0o600 })
    chmodSync(path, 0o600)
    return { token: Redacted.make(token), path }
  } catch (error) {
    if (error instanceof ConfigError) throw error
    throw new ConfigError({
      problem: `no inbound token is configured and the generated one cannot be kept in ${path} (${codeOf(error) ?? "unknown error"})`,
    })
  }
}

const readExisting = (path: string): string | null => {
  try {
    const text = readFileSync(path, "utf8").trim()
    return text === "" ? null : text
  } catch (error) {
    if (codeOf(error) === "ENOENT") return null
    throw error
  }
}

const failConfig = (problem: string): never => {
  throw new ConfigError({ problem })
}

/** Loads the configuration: environment first, then the config file (`DTMA_CONFIG_FILE`, default `/etc/dtma.conf`). */
export const loadConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Config => {
  const file = readConfigFile(env.DTMA_CONFIG_FILE?.trim() || DEFAULT_CONFIG_FILE)
  const settings = resolveSettings(env, file)
  // Unreadable or unusable TLS files stop the start here, with the setting named, not at listen.
  if (settings.tls != null) readTlsMaterial(settings.tls, failConfig)
  if (settings.inboundTokens.length > 0) return { ...settings, generatedTokenFile: null }
  const generated = ensureApiToken(settings.stateDir)
  return { ...settings, inboundTokens: [generated.token], generatedTokenFile: generated.path }
}
