import type { JsonRpcRequest } from "@dtma/domain"
import { isObject } from "./isObject.ts"

const INITIALIZE_PARAMS =
  "Invalid params: initialize takes protocolVersion (a string), capabilities (an object) and clientInfo (an object with a name and a version)"

/** What is wrong with the params of an `initialize`, as a client must send them; null when nothing. */
export const initializeProblem = (request: JsonRpcRequest): string | null => {
  const params = request.params
  const info = params?.["clientInfo"]
  const ok =
    typeof params?.["protocolVersion"] === "string" &&
    isObject(params["capabilities"]) &&
    isObject(info) &&
    typeof info["name"] === "string" &&
    typeof info["version"] === "string"
  return ok ? null : INITIALIZE_PARAMS
}
