import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { McpGroupExists, McpGroupNotFound } from "../errors.ts"
import type { McpServerNotReady } from "../mcp/mcpErrors.ts"
import type { McpServerView } from "../mcp/McpServerView.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, ManageError } from "./Instances.ts"
import type { CredentialError } from "./mcpCredentials.ts"
import type { McpServers } from "./McpServers.ts"

/** The legacy `/mcp/groups` alias: named sets of MCP servers deployed and removed together. */
export interface McpGroups {
  /** Deploys every server (at most `concurrency` at once); all or none: a failure removes the others. */
  deploy(
    groupId: string,
    requests: ReadonlyArray<DeployRequest>,
    concurrency: number,
  ): Effect.Effect<ReadonlyArray<McpServerView>, McpGroupExists | DeployError | McpServerNotReady | CredentialError>
  /** Removes the group's servers that are still there; the names removed. */
  remove(groupId: string): Effect.Effect<ReadonlyArray<string>, McpGroupNotFound | ManageError>
}

/** Groups over `McpServers`, kept in memory only (a restarted DTMA forgets them, not their servers). */
export const makeMcpGroups = (mcpServers: McpServers): McpGroups => {
  const groups = new Map<string, ReadonlyArray<string>>()
  const deploying = new Set<string>()

  const deploy: McpGroups["deploy"] = (groupId, requests, concurrency) =>
    Effect.suspend((): ReturnType<McpGroups["deploy"]> => {
      if (groups.has(groupId) || deploying.has(groupId)) return Effect.fail(new McpGroupExists({ groupId }))
      deploying.add(groupId)
      // Every deploy runs to its end (none is interrupted half-way), then the outcome is judged.
      return Effect.forEach(requests, (r) => Effect.result(mcpServers.deploy(r)), { concurrency }).pipe(
        Effect.flatMap((results) => {
          const views = results.filter(Result.isSuccess).map((r) => r.success)
          const failure = results.find(Result.isFailure)
          if (failure === undefined) {
            groups.set(
              groupId,
              views.map((v) => v.instanceName),
            )
            return Effect.succeed(views)
          }
          return Effect.forEach(views, (v) => mcpServers.remove(v.instanceName).pipe(Effect.ignore), { discard: true }).pipe(
            Effect.andThen(Effect.fail(failure.failure)),
          )
        }),
        Effect.ensuring(Effect.sync(() => deploying.delete(groupId))),
      )
    })

  const remove: McpGroups["remove"] = (groupId) =>
    Effect.suspend((): ReturnType<McpGroups["remove"]> => {
      const names = groups.get(groupId)
      if (names === undefined) return Effect.fail(new McpGroupNotFound({ groupId }))
      const present = names.filter((n) => mcpServers.isMcpServer(n))
      return Effect.forEach(present, (n) => mcpServers.remove(n), { discard: true }).pipe(
        Effect.tap(() => Effect.sync(() => groups.delete(groupId))),
        Effect.as(present),
      )
    })

  return { deploy, remove }
}
