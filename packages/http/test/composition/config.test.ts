import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { ConfigError, parseConfigFile, resolveSettings } from "../../src/composition/config.ts"
import { ensureApiToken, loadConfig } from "../../src/composition/loadConfig.ts"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"

const EMPTY_FILE = { values: {}, badLines: [] }
const tokensOf = (tokens: ReadonlyArray<Redacted.Redacted<string>>) => tokens.map((t) => Redacted.value(t))
const scratch = () => mkdtempSync(join(tmpdir(), "dtma-config-"))

describe("parsing the config file", () => {
  it("reads KEY=value lines, skipping comments and blank lines", () => {
    const text = "# old droplet\nDTMA_AUTH_TOKEN=abc=def\n\n  AGENTOPIA_API_BASE_URL = https://x.supabase.co/functions/v1  \n"
    expect(parseConfigFile(text)).toEqual({
      values: { DTMA_AUTH_TOKEN: "abc=def", AGENTOPIA_API_BASE_URL: "https://x.supabase.co/functions/v1" },
      badLines: [],
    })
  })

  it("drops matching quotes and an export prefix, and reports lines that are not KEY=value", () => {
    expect(parseConfigFile("export PORT=\"31000\"\nLOG_LEVEL='debug'\njust text\n=nokey\r\n")).toEqual({
      values: { PORT: "31000", LOG_LEVEL: "debug" },
      badLines: [3, 4],
    })
  })
})

describe("resolving settings", () => {
  it("manages the default scope's containers unless DTMA_SCOPE names another, and refuses a scope Docker cannot filter on", () => {
    expect(resolveSettings({}, EMPTY_FILE).scope).toBe("true")
    expect(resolveSettings({ DTMA_SCOPE: "ci-42" }, EMPTY_FILE).scope).toBe("ci-42")
    expect(() => resolveSettings({ DTMA_SCOPE: "a=b" }, EMPTY_FILE)).toThrow(/DTMA_SCOPE must be/)
  })

  it("uses the defaults when nothing is set", () => {
    const s = resolveSettings({}, EMPTY_FILE)
    expect(s).toMatchObject({ port: 30000, host: "0.0.0.0", stateDir: "/var/lib/dtma", logLevel: "info", apiBaseUrl: null, outboundToken: null })
    expect(s.inboundTokens).toEqual([])
  })

  it("lets the environment win over the file, and ignores empty environment values", () => {
    const file = parseConfigFile("PORT=31000\nDTMA_AUTH_TOKEN=from-file\nAGENTOPIA_API_BASE_URL=https://file.example/v1\nLOG_LEVEL=warn")
    const s = resolveSettings({ PORT: "32000", AGENTOPIA_API_BASE_URL: "", LOG_LEVEL: "DEBUG" }, file)
    expect(s.port).toBe(32000)
    expect(s.apiBaseUrl).toBe("https://file.example/v1")
    expect(s.logLevel).toBe("debug")
    expect(tokensOf(s.inboundTokens)).toEqual(["from-file"])
  })

  it("accepts every configured token inbound and presents the bearer token, else the file token, outbound", () => {
    const file = parseConfigFile("DTMA_AUTH_TOKEN=file-token")
    const both = resolveSettings({ BACKEND_TO_DTMA_API_KEY: "api-key", DTMA_BEARER_TOKEN: "bearer" }, file)
    expect(tokensOf(both.inboundTokens)).toEqual(["api-key", "bearer", "file-token"])
    expect(Redacted.value(both.outboundToken!)).toBe("bearer")
    expect(both.has).toEqual({ apiKey: true, bearerToken: true, fileToken: true })
    const fileOnly = resolveSettings({ BACKEND_TO_DTMA_API_KEY: "api-key" }, file)
    expect(Redacted.value(fileOnly.outboundToken!)).toBe("file-token")
  })

  it("takes MCP timings and limits from DTMA_MCP_* settings, defaults for the rest", () => {
    const s = resolveSettings({ DTMA_MCP_START_TIMEOUT_MS: "5000", DTMA_MCP_MAX_IN_FLIGHT: "4" }, parseConfigFile("DTMA_MCP_PING_INTERVAL_MS=1000"))
    expect(s.mcp).toEqual({ ...DEFAULT_MCP_CONFIG, startTimeoutMs: 5000, maxInFlight: 4, pingBaseMs: 1000 })
  })

  it("pages the agent endpoint's lists 1000 items at a time, unless DTMA_MCP_LIST_PAGE_SIZE says otherwise (1 to 100000)", () => {
    expect(resolveSettings({}, EMPTY_FILE).mcp.listPageSize).toBe(1000)
    expect(resolveSettings({ DTMA_MCP_LIST_PAGE_SIZE: "50" }, EMPTY_FILE).mcp.listPageSize).toBe(50)
    expect(() => resolveSettings({ DTMA_MCP_LIST_PAGE_SIZE: "0" }, EMPTY_FILE)).toThrow(/DTMA_MCP_LIST_PAGE_SIZE must be a whole number between 1 and 100000/)
  })

  it("holds a 2026-07-28 client's call waiting for its input 60 s, unless DTMA_MCP_MRTR_TTL_MS says otherwise (from 100 ms)", () => {
    expect(resolveSettings({}, EMPTY_FILE).mcp.mrtrTtlMs).toBe(60_000)
    expect(resolveSettings({ DTMA_MCP_MRTR_TTL_MS: "5000" }, EMPTY_FILE).mcp.mrtrTtlMs).toBe(5000)
    expect(() => resolveSettings({ DTMA_MCP_MRTR_TTL_MS: "50" }, EMPTY_FILE)).toThrow(/DTMA_MCP_MRTR_TTL_MS must be a whole number between 100 and/)
  })

  it("bounds client sessions of the MCP endpoint at 256 per server and 2048 in all, idle ones kept 5 minutes, unless DTMA_MCP_* settings say otherwise", () => {
    expect(resolveSettings({}, EMPTY_FILE).mcp).toMatchObject({ maxSessionsPerServer: 256, maxSessions: 2048, sessionIdleTimeoutMs: 300_000 })
    const s = resolveSettings(
      { DTMA_MCP_MAX_SESSIONS_PER_SERVER: "16", DTMA_MCP_MAX_SESSIONS: "64" },
      parseConfigFile("DTMA_MCP_SESSION_IDLE_TIMEOUT_MS=60000"),
    )
    expect(s.mcp).toMatchObject({ maxSessionsPerServer: 16, maxSessions: 64, sessionIdleTimeoutMs: 60_000 })
    expect(() => resolveSettings({ DTMA_MCP_MAX_SESSIONS: "0" }, EMPTY_FILE)).toThrow(/DTMA_MCP_MAX_SESSIONS must be a whole number/)
    expect(() => resolveSettings({ DTMA_MCP_SESSION_IDLE_TIMEOUT_MS: "999" }, EMPTY_FILE)).toThrow(
      /DTMA_MCP_SESSION_IDLE_TIMEOUT_MS must be a whole number between 1000/,
    )
  })

  it("refuses an MCP setting out of range, naming the setting", () => {
    expect(() => resolveSettings({ DTMA_MCP_MAX_IN_FLIGHT: "0" }, EMPTY_FILE)).toThrow(/DTMA_MCP_MAX_IN_FLIGHT must be a whole number/)
    expect(() => resolveSettings({ DTMA_MCP_START_TIMEOUT_MS: "soon" }, EMPTY_FILE)).toThrow(/DTMA_MCP_START_TIMEOUT_MS/)
    expect(() => resolveSettings({ DTMA_MCP_PING_MAX_INTERVAL_MS: "1000" }, EMPTY_FILE)).toThrow(/must not be below DTMA_MCP_PING_INTERVAL_MS/)
  })

  it("sends the heartbeat every 60 s unless DTMA_HEARTBEAT_INTERVAL_MS says otherwise, and refuses one under a second", () => {
    expect(resolveSettings({}, EMPTY_FILE).heartbeatIntervalMs).toBe(60_000)
    expect(resolveSettings({}, parseConfigFile("DTMA_HEARTBEAT_INTERVAL_MS=1500")).heartbeatIntervalMs).toBe(1500)
    expect(() => resolveSettings({ DTMA_HEARTBEAT_INTERVAL_MS: "999" }, EMPTY_FILE)).toThrow(
      /DTMA_HEARTBEAT_INTERVAL_MS must be a whole number between 1000 and 86400000/,
    )
    expect(() => resolveSettings({ DTMA_HEARTBEAT_INTERVAL_MS: "1m" }, EMPTY_FILE)).toThrow(/DTMA_HEARTBEAT_INTERVAL_MS/)
  })

  it("keeps the audit in /var/log/dtma/audit.jsonl, rotated past 50 MiB, 5 files kept, copied to dtma-audit, unless DTMA_AUDIT_* say otherwise", () => {
    expect(resolveSettings({}, EMPTY_FILE).audit).toEqual({ path: "/var/log/dtma/audit.jsonl", maxBytes: 52_428_800, files: 5, backendPath: "dtma-audit" })
    const s = resolveSettings(
      { DTMA_AUDIT_LOG: "/srv/audit/dtma.jsonl", DTMA_AUDIT_LOG_MAX_BYTES: "1048576" },
      parseConfigFile("DTMA_AUDIT_LOG_FILES=10\nDTMA_AUDIT_PATH=/audit/ingest"),
    )
    expect(s.audit).toEqual({ path: "/srv/audit/dtma.jsonl", maxBytes: 1_048_576, files: 10, backendPath: "audit/ingest" })
  })

  it.each([
    [{ DTMA_AUDIT_LOG: "relative/audit.jsonl" }, "DTMA_AUDIT_LOG must be an absolute file path"],
    [{ DTMA_AUDIT_LOG: "/var/log/../etc/audit" }, "DTMA_AUDIT_LOG must be an absolute file path"],
    [{ DTMA_AUDIT_LOG: "/var/log/dtma/" }, "DTMA_AUDIT_LOG must be an absolute file path"],
    [{ DTMA_AUDIT_LOG_MAX_BYTES: "100" }, "DTMA_AUDIT_LOG_MAX_BYTES must be a whole number between 4096 and 1099511627776"],
    [{ DTMA_AUDIT_LOG_MAX_BYTES: "50MB" }, "DTMA_AUDIT_LOG_MAX_BYTES must be a whole number"],
    [{ DTMA_AUDIT_LOG_FILES: "0" }, "DTMA_AUDIT_LOG_FILES must be a whole number between 1 and 100"],
    [{ DTMA_AUDIT_PATH: "dtma audit?x=1" }, "DTMA_AUDIT_PATH must be a URL path"],
  ])("refuses the audit setting %j, naming it", (env, problem) => {
    expect(() => resolveSettings(env, EMPTY_FILE)).toThrow(problem)
  })

  it("holds secrets as redacted values", () => {
    const s = resolveSettings({ DTMA_BEARER_TOKEN: "bearer-secret" }, EMPTY_FILE)
    expect(JSON.stringify(s)).not.toContain("bearer-secret")
    expect(String(s.outboundToken)).not.toContain("bearer-secret")
  })

  it("drops a trailing slash from the backend URL", () => {
    expect(resolveSettings({ AGENTOPIA_API_BASE_URL: "https://x.supabase.co/functions/v1/" }, EMPTY_FILE).apiBaseUrl).toBe("https://x.supabase.co/functions/v1")
  })

  it("refuses bad settings with an error that names the setting, not the value", () => {
    for (const [env, setting] of [
      [{ PORT: "http" }, "PORT"],
      [{ PORT: "70000" }, "PORT"],
      [{ LOG_LEVEL: "chatty" }, "LOG_LEVEL"],
      [{ AGENTOPIA_API_BASE_URL: "ftp://secretive.host" }, "AGENTOPIA_API_BASE_URL"],
    ] as const) {
      const attempt = () => resolveSettings(env, EMPTY_FILE)
      expect(attempt).toThrow(ConfigError)
      expect(attempt).toThrow(setting)
      expect(attempt).not.toThrow(Object.values(env)[0])
    }
  })

  it("turns config file lines it cannot read into warnings", () => {
    expect(resolveSettings({}, parseConfigFile("oops\n")).warnings).toEqual(["config file line 1 is not KEY=value; ignored"])
  })
})

describe("loading the configuration", () => {
  it("starts without a config file", () => {
    const dir = scratch()
    const config = loadConfig({ DTMA_CONFIG_FILE: join(dir, "absent.conf"), DTMA_BEARER_TOKEN: "t" })
    expect(tokensOf(config.inboundTokens)).toEqual(["t"])
    expect(config.generatedTokenFile).toBeNull()
  })

  it("reads the file named by DTMA_CONFIG_FILE", () => {
    const dir = scratch()
    writeFileSync(join(dir, "dtma.conf"), "DTMA_AUTH_TOKEN=legacy\nAGENTOPIA_API_BASE_URL=https://b.example/v1\n")
    const config = loadConfig({ DTMA_CONFIG_FILE: join(dir, "dtma.conf") })
    expect(tokensOf(config.inboundTokens)).toEqual(["legacy"])
    expect(config.apiBaseUrl).toBe("https://b.example/v1")
  })

  it("fails clearly when the config file exists but cannot be read", () => {
    const dir = scratch()
    mkdirSync(join(dir, "dtma.conf"))
    expect(() => loadConfig({ DTMA_CONFIG_FILE: join(dir, "dtma.conf"), DTMA_BEARER_TOKEN: "t" })).toThrow(
      /cannot read the config file .*dtma\.conf \(EISDIR\)/,
    )
  })

  it("generates a token when none is configured, kept 0600 in a 0700 directory", () => {
    const stateDir = join(scratch(), "state")
    const config = loadConfig({ DTMA_CONFIG_FILE: join(stateDir, "absent.conf"), DTMA_STATE_DIR: stateDir })
    const path = join(stateDir, "api-token")
    expect(config.generatedTokenFile).toBe(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(stateDir).mode & 0o777).toBe(0o700)
    const [token] = tokensOf(config.inboundTokens)
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(readFileSync(path, "utf8").trim()).toBe(token)
    expect(config.outboundToken).toBeNull()
  })

  it("reuses the generated token on the next start", () => {
    const stateDir = scratch()
    const first = ensureApiToken(stateDir)
    const second = ensureApiToken(stateDir)
    expect(Redacted.value(second.token)).toBe(Redacted.value(first.token))
  })

  it("tightens a kept token file that others could read", () => {
    const stateDir = scratch()
    writeFileSync(join(stateDir, "api-token"), "kept-token\n", { mode: 0o644 })
    expect(Redacted.value(ensureApiToken(stateDir).token)).toBe("kept-token")
    expect(statSync(join(stateDir, "api-token")).mode & 0o777).toBe(0o600)
  })

  it("fails clearly when the token cannot be kept", () => {
    const dir = scratch()
    writeFileSync(join(dir, "not-a-dir"), "")
    expect(() => ensureApiToken(join(dir, "not-a-dir"))).toThrow(/generated one cannot be kept in .*api-token/)
  })
})
