import * as Effect from "effect/Effect"
import { InvalidInstanceSpec } from "../errors.ts"
import type { ContainerOwner } from "../ports/CredentialDelivery.ts"

const NUMERIC = /^(\d{1,9})(?::(\d{1,9}))?$/

/**
 * Whom delivered credentials must belong to: the container's user (`User` override, else the
 * image's `USER`). Root when none is set. A user given by name cannot be resolved outside the
 * container, so it is refused with a way out.
 */
export const ownerOf = (user: string | null): Effect.Effect<ContainerOwner, InvalidInstanceSpec> => {
  if (user === null || user === "" || user === "root") return Effect.succeed({ uid: 0, gid: 0 })
  const match = NUMERIC.exec(user)
  if (match === null) {
    return Effect.fail(new InvalidInstanceSpec({
      field: "User",
      problem: `the container runs as '${user.slice(0, 60)}', a name: credential files and sockets are delivered to a numeric user, so set baseConfigOverrideJson.User to its uid (e.g. "1000:1000")`,
    }))
  }
  const uid = Number(match[1])
  return Effect.succeed({ uid, gid: match[2] === undefined ? uid : Number(match[2]) })
}
