import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { parseContainerUser } from "../containerUser.ts"
import { InvalidInstanceSpec } from "../errors.ts"
import type { ContainerOwner } from "../ports/CredentialDelivery.ts"

const ROOT: ContainerOwner = { uid: 0, gid: 0 }

/**
 * Whom delivered credentials must belong to: the container's user (`User` override, else the
 * image's `USER`), read as the runtime reads it (`containerUser.ts`). Root when none is set; a
 * bare uid's group is taken to be the uid. A user given by name cannot be resolved outside the
 * container, so it is refused with a way out.
 */
export const ownerOf = (user: string | null): Effect.Effect<ContainerOwner, InvalidInstanceSpec> => {
  if (user === null || user === "") return Effect.succeed(ROOT)
  const parsed = parseContainerUser(user)
  if (Result.isFailure(parsed))
    return Effect.fail(new InvalidInstanceSpec({ field: "user", problem: `${JSON.stringify(user.slice(0, 60))} ${parsed.failure}` }))
  const { user: u, group: g } = parsed.success
  const idOf = (part: typeof u): number | null => (part._tag === "Id" ? part.id : part.name === "root" ? 0 : null)
  const uid = idOf(u)
  const gid = g === null ? uid : idOf(g)
  if (uid === null || gid === null) {
    return Effect.fail(
      new InvalidInstanceSpec({
        field: "user",
        problem:
          `the container runs as '${user.slice(0, 60)}', a name: credential files and sockets are delivered to a numeric user, ` +
          'so give the user as numbers (e.g. "1000:1000")',
      }),
    )
  }
  return Effect.succeed({ uid, gid })
}
