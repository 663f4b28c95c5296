import { DEFAULT_AUDIT_FILES, DEFAULT_AUDIT_LOG, DEFAULT_AUDIT_MAX_BYTES, DEFAULT_AUDIT_PATH } from "@dtma/adapters"

/** Where the audit goes: its file, how that file is rotated, and the backend function taking copies. */
export interface AuditConfig {
  /** The JSON lines file (`DTMA_AUDIT_LOG`). */
  readonly path: string
  /** The size past which it is rotated (`DTMA_AUDIT_LOG_MAX_BYTES`). */
  readonly maxBytes: number
  /** Rotated files kept (`DTMA_AUDIT_LOG_FILES`). */
  readonly files: number
  /** The backend function taking batches, under `AGENTOPIA_API_BASE_URL` (`DTMA_AUDIT_PATH`). */
  readonly backendPath: string
}

export const DEFAULT_AUDIT_CONFIG: AuditConfig = {
  path: DEFAULT_AUDIT_LOG,
  maxBytes: DEFAULT_AUDIT_MAX_BYTES,
  files: DEFAULT_AUDIT_FILES,
  backendPath: DEFAULT_AUDIT_PATH,
}

const MIN_BYTES = 4096
const MAX_BYTES = 2 ** 40
const MAX_FILES = 100

const wholeNumber = (name: string, text: string | undefined, min: number, max: number, fallback: number, fail: (problem: string) => never): number => {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max) return fail(`${name} must be a whole number between ${min} and ${max}`)
  return value
}

/** The audit settings from `get` (environment, then config file); a bad value goes to `fail`, which names the setting. */
export const auditConfigOf = (get: (key: string) => string | undefined, fail: (problem: string) => never): AuditConfig => {
  const path = get("DTMA_AUDIT_LOG") ?? DEFAULT_AUDIT_CONFIG.path
  if (!path.startsWith("/") || path.split("/").includes("..") || path.endsWith("/")) fail("DTMA_AUDIT_LOG must be an absolute file path without '..'")
  const backendPath = (get("DTMA_AUDIT_PATH") ?? DEFAULT_AUDIT_CONFIG.backendPath).replace(/^\/+/, "")
  if (!/^[A-Za-z0-9._/-]{1,200}$/.test(backendPath)) fail("DTMA_AUDIT_PATH must be a URL path")
  return {
    path,
    maxBytes: wholeNumber("DTMA_AUDIT_LOG_MAX_BYTES", get("DTMA_AUDIT_LOG_MAX_BYTES"), MIN_BYTES, MAX_BYTES, DEFAULT_AUDIT_CONFIG.maxBytes, fail),
    files: wholeNumber("DTMA_AUDIT_LOG_FILES", get("DTMA_AUDIT_LOG_FILES"), 1, MAX_FILES, DEFAULT_AUDIT_CONFIG.files, fail),
    backendPath,
  }
}
