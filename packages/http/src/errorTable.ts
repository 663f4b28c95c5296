import type { DeployError, ManageError } from "@dtma/domain"
import type { MissingRequiredFields } from "./MissingRequiredFields.ts"

/** A status and a JSON body. */
export interface Reply {
  readonly status: number
  readonly body: unknown
}

/** What the caller asked for, so a failure can say what failed. */
export type Operation =
  | { readonly verb: "deploy"; readonly name: string }
  | { readonly verb: "remove" | "start" | "stop"; readonly name: string }
  | { readonly verb: "list" }

/** Every expected failure an HTTP handler can meet. */
export type HttpFailure = DeployError | ManageError | MissingRequiredFields

type Tag = HttpFailure["_tag"]
type Row<T extends Tag> = (error: Extract<HttpFailure, { readonly _tag: T }>, operation: Operation) => Reply

const failedTo = (operation: Operation): string => {
  switch (operation.verb) {
    case "deploy":
      return `Failed to deploy tool '${operation.name}'.`
    case "list":
      return "Failed to list tool instances."
    default:
      return `Failed to ${operation.verb} tool instance '${operation.name}'.`
  }
}

// The legacy "any other failure" shape: what was attempted, and why it failed.
const otherFailure =
  (status: number) =>
  (error: { readonly message: string }, operation: Operation): Reply => ({
    status,
    body: { success: false, message: failedTo(operation), error: error.message },
  })

const conflict = (error: { readonly message: string }): Reply => ({ status: 409, body: { success: false, error: error.message } })

/**
 * The one mapping from failure to HTTP answer. Bodies carry the domain's messages, which are built
 * from names, ports and images, never from environment values or tokens.
 */
export const ERROR_TABLE: { readonly [T in Tag]: Row<T> } = {
  MissingRequiredFields: (e) => ({ status: 400, body: { success: false, error: e.message } }),
  InvalidInstanceSpec: (e) => ({ status: 400, body: { success: false, error: e.message, code: "invalid_request" } }),
  InstanceAlreadyExists: (e) => ({ status: 409, body: { success: false, error: `Instance with name '${e.name}' already exists.` } }),
  PortConflict: conflict,
  NameTakenByUnmanagedContainer: conflict,
  InstanceNotFound: (e) => ({
    status: 404,
    body: { success: false, error: `Tool instance '${e.name}' not found or not managed by this DTMA.` },
  }),
  ImageUnavailable: otherFailure(422),
  RuntimeUnavailable: otherFailure(503),
  RuntimeOperationFailed: otherFailure(502),
}

/** A defect: a bug, never an expected outcome. */
export const INTERNAL_ERROR: Reply = { status: 500, body: { success: false, error: "Internal error" } }

export const replyForFailure = (error: HttpFailure, operation: Operation): Reply =>
  (ERROR_TABLE[error._tag] as (error: HttpFailure, operation: Operation) => Reply)(error, operation)
