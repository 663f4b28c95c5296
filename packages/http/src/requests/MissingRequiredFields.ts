import * as Data from "effect/Data"
import { REQUIRED_DEPLOY_FIELDS } from "./schemas.ts"

/**
 * A deploy body without one of its required fields. The answer lists every required field whichever
 * is missing (`required`, the legacy three by default), so callers matching on the text keep
 * working; `fields` says which really are missing.
 */
export class MissingRequiredFields extends Data.TaggedError("MissingRequiredFields")<{
  readonly fields: ReadonlyArray<string>
  readonly required?: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Missing required fields: ${(this.required ?? REQUIRED_DEPLOY_FIELDS).join(", ")}`
  }
}
