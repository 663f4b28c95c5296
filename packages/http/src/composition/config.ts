import * as Data from "effect/Data"
import * as Redacted from "effect/Redacted"
import { accessConfigOf, type AccessConfig } from "./accessConfig.ts"
import { auditConfigOf, type AuditConfig } from "./auditConfig.ts"
import { mcpConfigOf, type McpConfig } from "./mcpConfig.ts"
import { tlsSettingsOf, type TlsSettings } from "./tlsSettings.ts"

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** The DTMA's settings, resolved from the environment and the optional config file. */
export interface Config {
  readonly port: number
  /** Listen address. */
  readonly host: string
  readonly stateDir: string
  readonly logLevel: LogLevel
  /** The Agentopia backend; `null` turns the heartbeat off. */
  readonly apiBaseUrl: string | null
  /** Every token accepted in `Authorization: Bearer …`; never empty once loaded. */
  readonly inboundTokens: ReadonlyArray<Redacted.Redacted<string>>
  /** What the DTMA presents to the backend: DTMA_BEARER_TOKEN, else DTMA_AUTH_TOKEN. */
  readonly outboundToken: Redacted.Redacted<string> | null
  /** Which secrets were configured, for `/status` (flags only, never values). */
  readonly has: { readonly apiKey: boolean; readonly bearerToken: boolean; readonly fileToken: boolean }
  /** The file holding the generated inbound token, when none was configured. */
  readonly generatedTokenFile: string | null
  /** Problems worth a warning that did not stop the start (never values). */
  readonly warnings: ReadonlyArray<string>
  /** Which Docker containers are this DTMA's (`DTMA_SCOPE`, label `dtma.managed=<scope>`); default `true`. */
  readonly scope: string
  /** How often the heartbeat goes out (`DTMA_HEARTBEAT_INTERVAL_MS`); its retries back off from 1/30 of it. */
  readonly heartbeatIntervalMs?: number | undefined
  /** Where and how OAuth tokens are delivered and fetched. */
  readonly credentials: CredentialsConfig
  /** How MCP servers are supervised (`DTMA_MCP_*`). */
  readonly mcp: McpConfig
  /** Where the audit is kept and copied (`DTMA_AUDIT_*`). */
  readonly audit: AuditConfig
  /** The DTMA's own certificate and key (`DTMA_TLS_CERT_FILE`, `DTMA_TLS_KEY_FILE`): HTTPS when set; absent or null: plain HTTP. */
  readonly tls?: TlsSettings | null | undefined
  /** Agents: token issuers, the resource identifier, origins and rate limits. */
  readonly access: AccessConfig
}

/** A setting the DTMA cannot start with. The message names the setting, never its value. */
export interface CredentialsConfig {
  /** Host directory on a memory-backed filesystem for delivered tokens (`DTMA_CREDENTIALS_DIR`). */
  readonly root: string
  /** Deliver even when `root` is on disk (`DTMA_CREDENTIALS_ALLOW_DISK=true`): tokens may then reach a disk. */
  readonly allowDisk: boolean
  /** The backend function handing out OAuth tokens (`DTMA_OAUTH_CREDENTIALS_PATH`). */
  readonly oauthPath: string
}

export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly problem: string }> {
  override get message(): string {
    return `Configuration error: ${this.problem}`
  }
}

export const DEFAULT_CONFIG_FILE = "/etc/dtma.conf"
export const DEFAULT_STATE_DIR = "/var/lib/dtma"
export const DEFAULT_PORT = 30000
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000

const heartbeatIntervalOf = (text: string | undefined): number => {
  if (text === undefined) return DEFAULT_HEARTBEAT_INTERVAL_MS
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < 1_000 || value > 86_400_000)
    throw new ConfigError({ problem: "DTMA_HEARTBEAT_INTERVAL_MS must be a whole number between 1000 and 86400000" })
  return value
}

export interface ParsedConfigFile {
  readonly values: Readonly<Record<string, string>>
  /** 1-based numbers of lines that are not `KEY=value`. */
  readonly badLines: ReadonlyArray<number>
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/

const unquote = (value: string): string =>
  value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0] ? value.slice(1, -1) : value

/** Reads `KEY=value` lines; `#` starts a comment line, `export ` prefixes and matching quotes are dropped. */
export const parseConfigFile = (text: string): ParsedConfigFile => {
  const values: Record<string, string> = {}
  const badLines: Array<number> = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    const eq = line.indexOf("=")
    const key = line
      .slice(0, Math.max(eq, 0))
      .replace(/^export\s+/, "")
      .trim()
    if (eq < 0 || !KEY.test(key)) return void badLines.push(index + 1)
    values[key] = unquote(line.slice(eq + 1).trim())
  })
  return { values, badLines }
}

/** Settings before the inbound token is settled (that needs the file system). */
export type ResolvedSettings = Omit<Config, "generatedTokenFile">

/** Environment variables win over the file; an empty value counts as unset. */
export const resolveSettings = (env: Readonly<Record<string, string | undefined>>, file: ParsedConfigFile): ResolvedSettings => {
  const get = (key: string): string | undefined => {
    const value = env[key]?.trim() || file.values[key]?.trim()
    return value === "" ? undefined : value
  }
  const portText = get("PORT") ?? String(DEFAULT_PORT)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new ConfigError({ problem: "PORT must be an integer between 1 and 65535" })
  const logLevel = (get("LOG_LEVEL") ?? "info").toLowerCase()
  if (!(LOG_LEVELS as ReadonlyArray<string>).includes(logLevel)) {
    throw new ConfigError({ problem: `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}` })
  }
  const baseUrl = get("AGENTOPIA_API_BASE_URL")
  if (baseUrl !== undefined && !isHttpUrl(baseUrl)) throw new ConfigError({ problem: "AGENTOPIA_API_BASE_URL must be an http(s) URL" })
  const apiKey = get("BACKEND_TO_DTMA_API_KEY")
  const bearer = get("DTMA_BEARER_TOKEN")
  const fileToken = get("DTMA_AUTH_TOKEN")
  const inbound = [...new Set([apiKey, bearer, fileToken].filter((t) => t !== undefined))]
  const outbound = bearer ?? fileToken
  const scope = get("DTMA_SCOPE") ?? "true"
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(scope))
    throw new ConfigError({ problem: "DTMA_SCOPE must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit" })
  const host = get("DTMA_HOST") ?? "0.0.0.0"
  const tls = tlsSettingsOf(get, (problem) => {
    throw new ConfigError({ problem })
  })
  return {
    port,
    host,
    stateDir: get("DTMA_STATE_DIR") ?? DEFAULT_STATE_DIR,
    logLevel: logLevel as LogLevel,
    apiBaseUrl: baseUrl === undefined ? null : baseUrl.replace(/\/+$/, ""),
    inboundTokens: inbound.map((t) => Redacted.make(t)),
    outboundToken: outbound === undefined ? null : Redacted.make(outbound),
    has: { apiKey: apiKey !== undefined, bearerToken: bearer !== undefined, fileToken: fileToken !== undefined },
    scope,
    heartbeatIntervalMs: heartbeatIntervalOf(get("DTMA_HEARTBEAT_INTERVAL_MS")),
    credentials: credentialsConfigOf(get),
    warnings: file.badLines.map((n) => `config file line ${n} is not KEY=value; ignored`),
    mcp: mcpConfigOf(get, (problem) => {
      throw new ConfigError({ problem })
    }),
    tls,
    access: accessConfigOf(
      get,
      (problem) => {
        throw new ConfigError({ problem })
      },
      `${tls === null ? "http" : "https"}://${get("DTMA_PUBLIC_HOST") ?? defaultHostOf(host)}:${port}`,
    ),
    audit: auditConfigOf(get, (problem) => {
      throw new ConfigError({ problem })
    }),
  }
}

// A wildcard listen address is nobody's name for the DTMA: loopback stands in until a public host is configured.
const defaultHostOf = (host: string): string => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host)

const credentialsConfigOf = (get: (key: string) => string | undefined): CredentialsConfig => {
  const root = get("DTMA_CREDENTIALS_DIR") ?? "/run/dtma"
  if (!root.startsWith("/") || root.includes("..")) throw new ConfigError({ problem: "DTMA_CREDENTIALS_DIR must be an absolute path without '..'" })
  const allow = (get("DTMA_CREDENTIALS_ALLOW_DISK") ?? "false").toLowerCase()
  if (!["true", "false"].includes(allow)) throw new ConfigError({ problem: "DTMA_CREDENTIALS_ALLOW_DISK must be true or false" })
  const oauthPath = (get("DTMA_OAUTH_CREDENTIALS_PATH") ?? "get-mcp-oauth-credentials").replace(/^\/+/, "")
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(oauthPath)) throw new ConfigError({ problem: "DTMA_OAUTH_CREDENTIALS_PATH must be a URL path" })
  return { root: root.replace(/\/+$/, ""), allowDisk: allow === "true", oauthPath }
}

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}
