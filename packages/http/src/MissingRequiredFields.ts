import { Data } from "effect"
import { REQUIRED_DEPLOY_FIELDS } from "./schemas.ts"

/**
 * A deploy body without one of its required fields. The legacy answer lists all three whichever is
 * missing, so callers matching on the text keep working; `fields` says which really are.
 */
export class MissingRequiredFields extends Data.TaggedError("MissingRequiredFields")<{
  readonly fields: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Missing required fields: ${REQUIRED_DEPLOY_FIELDS.join(", ")}`
  }
}
