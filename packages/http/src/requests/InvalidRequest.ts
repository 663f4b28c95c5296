import * as Data from "effect/Data"
import type { SpecField } from "@dtma/domain"

/** A request this API cannot take: `path` names the part of it (`baseConfigOverrideJson.Env[1]`, `tail`). */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly path: string
  readonly problem: string
}> {
  override get message(): string {
    return `Invalid ${this.path}: ${this.problem}`
  }
}

/** What callers of the deploy routes call each part of a deploy the domain refuses. */
export const BODY_NAMES: { readonly [F in SpecField]: string } = {
  name: "instanceNameOnToolbox",
  accountToolInstanceId: "accountToolInstanceId",
  image: "dockerImageUrl",
  env: "Env",
  ports: "PortBindings",
  transport: "mcpTransportType",
  mcpPort: "mcpPort",
  user: "User",
  labels: "Labels",
  tmpfs: "HostConfig.Tmpfs",
  memoryBytes: "HostConfig.Memory",
  nanoCpus: "HostConfig.NanoCpus",
  pidsLimit: "HostConfig.PidsLimit",
  agentId: "agentId",
  connectionIds: "oauthConnectionIds",
  refreshInterval: "refreshIntervalSeconds",
}
