import * as Effect from "effect/Effect"
import type { DeployRequest } from "./deployRequest.ts"
import type { Instances } from "./Instances.ts"
import type { McpServers } from "./McpServers.ts"

/**
 * The legacy tool routes' operations. MCP servers share the tools' namespace; for them these go
 * through `McpServers`, so that supervision follows what the caller did (a stop is not a crash, a
 * removal forgets the server, a deploy answers once the server is ready).
 */
export const toolOperations = (instances: Instances, mcpServers: McpServers) => {
  /**
   * A name not (yet) supervised may still hold an MCP server's container: one whose deploy is in
   * flight. Those go through `McpServers` too, which waits for the deploy; a container it does not
   * supervise (its adoption failed) is managed as a plain instance.
   */
  const route = <A, E1 extends { readonly _tag: string }, E2>(name: string, mcp: Effect.Effect<A, E1>, plain: Effect.Effect<A, E2>) =>
    Effect.suspend(() =>
      mcpServers.isMcpServer(name)
        ? mcp
        : instances.find(name).pipe(
            Effect.flatMap((c) =>
              c.kind === "mcp_server"
                ? mcp.pipe(
                    Effect.catchIf(
                      (e) => e._tag === "InstanceNotFound",
                      () => plain,
                    ),
                  )
                : plain,
            ),
          ),
    )
  return {
    deploy: (request: DeployRequest) =>
      request.mcp == null ? instances.deploy(request) : mcpServers.deploy(request).pipe(Effect.flatMap((v) => instances.find(v.instanceName))),
    remove: (name: string) => route(name, mcpServers.remove(name), instances.remove(name)),
    start: (name: string) =>
      route(
        name,
        mcpServers.startUnlessServing(name).pipe(Effect.map(({ outcome, value }) => ({ outcome, state: value.containerState }))),
        instances.start(name).pipe(Effect.map(({ outcome, container }) => ({ outcome, state: container.state }))),
      ),
    stop: (name: string) => route(name, mcpServers.stop(name).pipe(Effect.map((v) => v.containerState)), instances.stop(name).pipe(Effect.map((c) => c.state))),
  }
}
