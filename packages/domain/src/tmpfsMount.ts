const BYTES = /^[0-9]{1,15}[kmgKMG]?$/
const COUNT_OF = (what: string) => `must be a whole number of ${what}, with an optional k, m or g`

/** Options with a value, and what the value must look like (what the kernel's tmpfs takes, written plainly). */
const VALUED: Readonly<Record<string, { readonly valid: (value: string) => boolean; readonly rule: string }>> = {
  size: { valid: (v) => BYTES.test(v) || /^(100|[1-9]?[0-9])%$/.test(v), rule: `${COUNT_OF("bytes")}, or a percentage of memory such as 10%` },
  nr_blocks: { valid: (v) => BYTES.test(v), rule: COUNT_OF("blocks") },
  nr_inodes: { valid: (v) => BYTES.test(v), rule: COUNT_OF("inodes") },
  mode: { valid: (v) => /^0?[0-7]{1,4}$/.test(v), rule: "must be octal permissions such as 0700 or 1777" },
  // The kernel refuses 4294967295 (-1, no id) and more.
  uid: { valid: (v) => /^[0-9]{1,10}$/.test(v) && Number(v) < 4_294_967_295, rule: "must be a numeric uid" },
  gid: { valid: (v) => /^[0-9]{1,10}$/.test(v) && Number(v) < 4_294_967_295, rule: "must be a numeric gid" },
}

const FLAGS: ReadonlySet<string> = new Set([
  "rw",
  "ro",
  "noexec",
  "nosuid",
  "nodev",
  "noatime",
  "nodiratime",
  "relatime",
  "strictatime",
  "sync",
  "async",
  "dirsync",
])

/** A container runtime mounts every tmpfs noexec, nosuid and nodev unless told otherwise: these would tell it otherwise. */
const WIDENING_FLAGS: ReadonlySet<string> = new Set(["exec", "suid", "dev"])

export const TMPFS_OPTIONS_SUPPORTED = `${[...FLAGS].join(", ")}, ${Object.keys(VALUED)
  .map((k) => `${k}=`)
  .join(", ")}`

const show = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)

// Kernel filesystems and the files the runtime mounts itself: a tmpfs there fails to start or breaks the container.
const KERNEL_TREES = ["/proc", "/sys", "/dev"]
const RUNTIME_FILES = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]

const pathProblemOf = (path: string): string | null => {
  // oxlint-disable-next-line no-control-regex
  if (!path.startsWith("/") || path === "/" || path.split("/").includes("..") || /[\u0000-\u001f\u007f]/.test(path) || path.length > 1024) {
    return `${show(path)} is not an absolute path below /`
  }
  const tree = KERNEL_TREES.find((t) => path === t || path.startsWith(`${t}/`))
  if (tree !== undefined) return `${show(path)} is under ${tree}, a kernel filesystem the container needs`
  if (RUNTIME_FILES.includes(path)) return `${show(path)} is a file the container runtime mounts itself`
  return null
}

const optionProblemOf = (option: string, seen: Set<string>): string | null => {
  if (option === "") return "has an empty option (a stray ',')"
  const eq = option.indexOf("=")
  const name = eq < 0 ? option : option.slice(0, eq)
  if (seen.has(name)) return `gives '${name.slice(0, 40)}' twice`
  seen.add(name)
  if (WIDENING_FLAGS.has(option)) return `'${option}' is not allowed (no exec, no suid, no dev)`
  if (eq < 0) {
    if (FLAGS.has(option)) return null
  } else {
    const valued = VALUED[name]
    const value = option.slice(eq + 1)
    if (valued !== undefined) return valued.valid(value) ? null : `${show(option)}: ${name} ${valued.rule}`
  }
  return `${show(option)} is not a tmpfs option this DTMA takes (${TMPFS_OPTIONS_SUPPORTED})`
}

/**
 * What is wrong with a tmpfs mount of `options` on `path`, or null: an absolute path outside the
 * kernel's and the runtime's own mounts; known options only, each at most once, with values the kernel
 * takes; never exec, suid or dev. Empty options are the runtime's defaults (noexec, nosuid, nodev).
 */
export const tmpfsProblemOf = (path: string, options: string): string | null => {
  const pathProblem = pathProblemOf(path)
  if (pathProblem !== null) return pathProblem
  if (options === "") return null
  const seen = new Set<string>()
  for (const option of options.split(",")) {
    const problem = optionProblemOf(option, seen)
    if (problem !== null) return `${show(path)} ${problem}`
  }
  if (seen.has("ro") && seen.has("rw")) return `${show(path)} gives both ro and rw`
  return null
}
