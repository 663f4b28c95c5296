import * as Result from "effect/Result"

/** A user or a group as `User` names it: a number, or a name the image's `/etc/passwd` or `/etc/group` resolves. */
export type IdOrName = { readonly _tag: "Id"; readonly id: number } | { readonly _tag: "Name"; readonly name: string }

/** `User` as the runtime reads it: `user`, `uid`, `user:group`, `uid:gid` (names and numbers mixed freely). */
export interface ContainerUser {
  readonly user: IdOrName
  /** Null when `User` names no group: the runtime then takes it from the image's `/etc/passwd`. */
  readonly group: IdOrName | null
}

/** The highest uid or gid the runtime accepts (it refuses more: "uids and gids must be in range 0-2147483647"). */
export const MAX_ID = 2_147_483_647

// A number as the OCI runtime reads one (Go's strconv.Atoi): an optional sign, then decimal digits (leading zeros allowed).
const NUMERIC = /^[+-]?[0-9]+$/
// A portable user or group name (useradd's rule, with upper case): what an image's files can hold.
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/

const show = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)

const EMPTY_PART = {
  user: "has an empty user part (the runtime would run it as root)",
  group: "has an empty group part (the runtime would take the group from the image's /etc/passwd)",
} as const

const partOf = (text: string, what: "user" | "group"): Result.Result<IdOrName, string> => {
  if (text === "") return Result.fail(EMPTY_PART[what])
  if (NUMERIC.test(text)) {
    // A string of digits too long for Atoi is no number to the runtime either: it then looks for a name and finds none.
    const id = Number(text)
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) return Result.fail(`has the ${what} id ${show(text)}, outside 0..${MAX_ID}`)
    return Result.succeed({ _tag: "Id", id: Math.abs(id) })
  }
  if (!NAME.test(text))
    return Result.fail(`has the ${what} ${show(text)}, which is neither a decimal number nor a ${what} name (letters, digits, '_', '.', '-'; at most 32)`)
  return Result.succeed({ _tag: "Name", name: text })
}

/**
 * Reads `User` as the container runtime does: split at `:`, a part of decimal digits (with an optional
 * sign and leading zeros) is an id, anything else a name. Fails with what is wrong, worded to follow the
 * quoted value: an empty value or part (the runtime would fill it in from the image, or with root), more
 * than one `:`, an id outside 0..2147483647, or a part that is neither a number nor a name.
 */
export const parseContainerUser = (text: string): Result.Result<ContainerUser, string> => {
  if (text === "") return Result.fail("is empty: leave User out to run as the image's user")
  const parts = text.split(":")
  // The runtime ignores what follows a second ':'; a value with one is not what its sender meant.
  if (parts.length > 2) return Result.fail("has more than one ':' (the forms are user, user:group, uid and uid:gid)")
  const [userText = "", groupText] = parts
  const user = partOf(userText, "user")
  if (Result.isFailure(user)) return Result.fail(user.failure)
  if (groupText === undefined) return Result.succeed({ user: user.success, group: null })
  const group = partOf(groupText, "group")
  return Result.isFailure(group) ? Result.fail(group.failure) : Result.succeed({ user: user.success, group: group.success })
}

const textOf = (part: IdOrName): string => (part._tag === "Id" ? String(part.id) : part.name)

/** The canonical spelling: numbers in plain decimal. `parseContainerUser(formatContainerUser(u))` gives `u` back. */
export const formatContainerUser = (u: ContainerUser): string => (u.group === null ? textOf(u.user) : `${textOf(u.user)}:${textOf(u.group)}`)

const WIDENS = ", which widens the container's privileges: MCP servers never run as root"

const isRoot = (part: IdOrName): boolean => (part._tag === "Id" ? part.id === 0 : part.name === "root")

/**
 * Why a container may not run as `u` when it must not be root, or null. Uid 0 and gid 0 are refused
 * however spelled (`root` by name too). So is a user named without a group: the runtime takes the group
 * from the image's `/etc/passwd`, which the DTMA cannot read (and uses group 0 for a user the image does
 * not list). A uid without a group is no problem: `mcpServerUser` gives it the group of the same number.
 * Other names are the image's to define, as its own `USER` is.
 */
export const rootProblemOf = (u: ContainerUser): string | null => {
  if (isRoot(u.user)) return `is uid 0 (root)${WIDENS}`
  if (u.group === null) {
    if (u.user._tag === "Id") return null
    return (
      "names no group: the runtime would take it from the image's /etc/passwd, or use group 0 (root) for a user the image does not list; " +
      `name the group too, e.g. '${u.user.name}:${u.user.name}', or give numbers`
    )
  }
  return isRoot(u.group) ? `has group 0 (root)${WIDENS}` : null
}

/**
 * The user an MCP server runs as, for a `User` it may be given (`rootProblemOf` is null): a uid without
 * a group runs with the group of the same number, never the group 0 the runtime would give a uid its
 * image does not list.
 */
export const mcpServerUser = (u: ContainerUser): ContainerUser => (u.group === null && u.user._tag === "Id" ? { user: u.user, group: u.user } : u)
