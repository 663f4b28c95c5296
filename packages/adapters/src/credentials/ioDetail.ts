/**
 * An I/O error in words built from its structured fields only (`ENOTDIR on mkdir /run/dtma/x`), so
 * no file content, and so no token, can ever reach a message.
 */
export const ioDetail = (e: unknown): string => {
  if (typeof e !== "object" || e === null) return String(e)
  const { code, syscall, path } = e as { code?: unknown; syscall?: unknown; path?: unknown }
  if (typeof code !== "string") return e instanceof Error ? e.message : "unknown error"
  return [code, typeof syscall === "string" ? `on ${syscall}` : "", typeof path === "string" ? path : ""].filter((s) => s !== "").join(" ")
}
