import { Effect } from "effect"
import type { ManagedContainer } from "@dtma/domain"
import type { RouterMiddleware } from "@koa/router"
import { deployRequestOf } from "../deployRequestOf.ts"
import { dockerPortMap, dockerStateOf } from "../dockerShapes.ts"
import { replyOf } from "../replyOf.ts"
import { send, type HandlerDeps } from "./HandlerDeps.ts"
import { toolOperations } from "./toolOperations.ts"

const deployed = (c: ManagedContainer) => ({
  success: true,
  message: `Tool '${c.name}' deployed successfully.`,
  data: {
    container_id: c.containerId,
    instance_name_on_toolbox: c.name,
    account_tool_instance_id: c.accountToolInstanceId,
    image: c.image,
    ports: dockerPortMap(c.ports),
    state: dockerStateOf(c),
  },
})

const nameIn = (body: unknown): string => {
  const name = typeof body === "object" && body !== null ? (body as Record<string, unknown>).instanceNameOnToolbox : undefined
  return typeof name === "string" ? name : ""
}

// The router has already decoded the name once; it must not be decoded again.
export const nameParam = (params: Record<string, string | undefined>): string => params.name ?? ""

/** The tool routes: parse, call one use case, render. MCP servers among the tools go through `McpServers`. */
export const toolHandlers = (deps: HandlerDeps): Record<"deployTool" | "removeTool" | "startTool" | "stopTool", RouterMiddleware> => {
  const { logger } = deps
  const tools = toolOperations(deps.instances, deps.mcpServers)
  return {
    deployTool: async (ctx) => {
      const body: unknown = ctx.request.body
      const deploy = Effect.fromResult(deployRequestOf(body)).pipe(Effect.flatMap(tools.deploy))
      send(ctx, await replyOf(deploy, { operation: { verb: "deploy", name: nameIn(body) }, logger, onSuccess: (c) => ({ status: 201, body: deployed(c) }) }))
    },
    removeTool: async (ctx) => {
      const name = nameParam(ctx.params)
      send(
        ctx,
        await replyOf(tools.remove(name), {
          operation: { verb: "remove", name },
          logger,
          onSuccess: () => ({ status: 200, body: { success: true, message: `Tool instance '${name}' removed successfully.` } }),
        }),
      )
    },
    startTool: async (ctx) => {
      const name = nameParam(ctx.params)
      send(
        ctx,
        await replyOf(tools.start(name), {
          operation: { verb: "start", name },
          logger,
          onSuccess: ({ outcome, state }) => ({
            status: 200,
            body: {
              success: true,
              message: outcome === "already_running" ? `Tool instance '${name}' is already running.` : `Tool instance '${name}' started successfully.`,
              data: { state: dockerStateOf({ state }) },
            },
          }),
        }),
      )
    },
    stopTool: async (ctx) => {
      const name = nameParam(ctx.params)
      send(
        ctx,
        await replyOf(tools.stop(name), {
          operation: { verb: "stop", name },
          logger,
          onSuccess: (state) => ({
            status: 200,
            body: { success: true, message: `Tool instance '${name}' stopped successfully.`, data: { state: dockerStateOf({ state }) } },
          }),
        }),
      )
    },
  }
}
