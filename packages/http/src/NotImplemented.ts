import * as Data from "effect/Data"
/** A request for something this DTMA version cannot do yet; refused rather than silently ignored. */
export class NotImplemented extends Data.TaggedError("NotImplemented")<{
  /** What was asked for, for a person: "OAuth credential injection". */
  readonly feature: string
}> {
  override get message(): string {
    return `${this.feature} is not available in this version`
  }
}
