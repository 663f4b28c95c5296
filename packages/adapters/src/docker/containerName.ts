/** Docker's rule for container names; it also caps them at 128 characters. */
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const MAX_LENGTH = 128

/** 32-bit FNV-1a, hex: a short stable suffix that keeps mapped names distinct. */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/**
 * The container name of an instance: the name itself when Docker accepts it, otherwise a valid
 * name derived from it plus a hash of the original (callers send names with spaces).
 */
export const containerNameFor = (name: string): string => {
  if (DOCKER_NAME.test(name) && name.length <= MAX_LENGTH) return name
  const cleaned = name
    .normalize("NFKD")
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 100)
  return `${cleaned === "" ? "instance" : cleaned}-${fnv1a(name)}`
}

/**
 * The container names a replacement tries in turn, for running beside the instance's current
 * container: the plain one (free when the current container has a stamped one), then ones stamped
 * with the time (`nowMs`), all within Docker's limit.
 */
export const replacementNamesFor = (name: string, nowMs: number): ReadonlyArray<string> => {
  const plain = containerNameFor(name)
  const stamp = nowMs.toString(36)
  return [plain, ...["", "1", "2"].map((n) => `${plain.slice(0, 110)}-${stamp}${n}`)]
}
