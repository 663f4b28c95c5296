import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { ensureMemoryBacked } from "@dtma/adapters"
import type { CredentialsConfig } from "./config.ts"
import type { Logger } from "./logger.ts"

/**
 * Before adoption: makes sure delivered tokens live on memory (mounting a tmpfs when it can). When
 * it cannot, the DTMA still serves; file and socket delivery then refuse, saying why.
 */
export const checkCredentialStore = async (config: CredentialsConfig, logger: Logger): Promise<void> => {
  const exit = await Effect.runPromiseExit(ensureMemoryBacked({ root: config.root, allowDisk: config.allowDisk }))
  if (Exit.isFailure(exit)) {
    logger.error({ cause: Cause.pretty(exit.cause) }, "credential directory is not on memory: OAuth delivery by file or socket is refused")
    return
  }
  const backing = exit.value
  if (backing.warning !== null) logger.warn({ root: backing.root }, backing.warning)
  logger.info({ root: backing.root, filesystem: backing.filesystem, mounted: backing.mounted }, "credential directory ready")
}
