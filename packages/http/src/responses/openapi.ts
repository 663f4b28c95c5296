import type { Middleware } from "koa"
import { z } from "zod"
import { ROUTES, type RouteSpec } from "../routes/routeTable.ts"
import { errorBody } from "../requests/schemas.ts"
import { DTMA_VERSION } from "../composition/version.ts"

const PARAMETERS: Readonly<Record<string, string>> = {
  name: "The instance name, URL-encoded once",
  groupId: "The group id, URL-encoded once",
  agentId: "The agent id (its tokens' sub), URL-encoded once",
  tokenId: "The token id (its jti), URL-encoded once",
}

const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")

const operationOf = (route: RouteSpec) => {
  const params: Array<Record<string, unknown>> = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    description: PARAMETERS[m[1] ?? ""] ?? "URL-encoded once",
    schema: { type: "string" },
  }))
  for (const q of route.query ?? []) params.push({ name: q.name, in: "query", required: false, description: q.description, schema: q.schema })
  return {
    operationId: route.id,
    summary: route.summary,
    ...(route.description === undefined ? {} : { description: route.description }),
    security: route.public ? [] : [{ bearer: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body === undefined ? {} : { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(route.body) } } } }),
    responses: Object.fromEntries(
      Object.entries(route.responses).map(([status, description]) => [
        status,
        Number(status) >= 400 ? { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } } : { description },
      ]),
    ),
  }
}

/** The OpenAPI 3.1 document, built from the route table and the same schemas the handlers validate with. */
export const openApiDocument = () => {
  const paths: Record<string, Record<string, ReturnType<typeof operationOf>>> = {}
  for (const route of ROUTES) (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operationOf(route)
  return {
    openapi: "3.1.0",
    info: {
      title: "DTMA (Droplet Tool Management Agent)",
      version: DTMA_VERSION,
      description:
        "Deploys and manages tool containers on an Agentopia toolbox droplet. Every route but the public ones needs `Authorization: Bearer <token>`.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: z.toJSONSchema(errorBody) },
    },
    security: [{ bearer: [] }],
    paths,
  }
}

/** `GET /openapi.json`. */
export const openApiHandler = (): Middleware => {
  const document = openApiDocument()
  return (ctx) => {
    ctx.body = document
  }
}
