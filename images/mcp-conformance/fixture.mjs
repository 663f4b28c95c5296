// The MCP server every server scenario of @modelcontextprotocol/conformance (0.1.16) asks for, written
// for the DTMA's tests with the 1.x SDK's McpServer: the tools, prompts and resources the scenarios name
// (`conformance list`; each scenario's description says what it calls and checks), and nothing else.
//
// Server requests (sampling, elicitation) and log and progress notifications go out through the
// handler's `extra`, so over Streamable HTTP they travel on the calling request's own event stream:
// that is what lets a proxy (the DTMA) tell which client's call they belong to.
import { setTimeout as sleep } from "node:timers/promises"
import { completable } from "@modelcontextprotocol/sdk/server/completable.js"
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js"
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js"
import { z } from "zod"

/** A 1×1 PNG (one red pixel). */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

/** A WAV of 8 silent 8-bit mono samples at 8 kHz: the RIFF header, then the samples. */
const wav = () => {
  const samples = Buffer.alloc(8, 0x80)
  const header = Buffer.alloc(44)
  header.write("RIFF", 0)
  header.writeUInt32LE(36 + samples.length, 4)
  header.write("WAVEfmt ", 8)
  header.writeUInt32LE(16, 16) // fmt chunk size
  header.writeUInt16LE(1, 20) // PCM
  header.writeUInt16LE(1, 22) // mono
  header.writeUInt32LE(8000, 24) // sample rate
  header.writeUInt32LE(8000, 28) // byte rate
  header.writeUInt16LE(1, 32) // block align
  header.writeUInt16LE(8, 34) // bits per sample
  header.write("data", 36)
  header.writeUInt32LE(samples.length, 40)
  return Buffer.concat([header, samples]).toString("base64")
}
const WAV = wav()

/** What the first argument of `test_prompt_with_arguments` completes to. */
const CITIES = ["paris", "park", "party", "test", "testing"]

const text = (value) => ({ type: "text", text: value })
const failed = (message) => ({ isError: true, content: [text(message)] })
const LEVELS = LoggingLevelSchema.options

/** A new server, one per client session. */
export const fixtureServer = () => {
  const server = new McpServer(
    { name: "dtma-conformance-fixture", version: "1.0.0" },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } },
      instructions: "A fixture for the MCP conformance suite's server scenarios.",
    },
  )
  // This session's log level (logging/setLevel); nothing below it is sent.
  let logLevel = "debug"
  const log = (extra, level, data) =>
    LEVELS.indexOf(level) < LEVELS.indexOf(logLevel) ? Promise.resolve() : extra.sendNotification({ method: "notifications/message", params: { level, data } })
  server.server.setRequestHandler(SetLevelRequestSchema, (request) => {
    logLevel = request.params.level
    return {}
  })

  /** Asks the client that made this call, on the call's own stream, or says why it cannot. */
  const ask = async (extra, capability, request, schema) => {
    if (server.server.getClientCapabilities()?.[capability] === undefined) return { refused: `the client did not declare the ${capability} capability` }
    return { answer: await extra.sendRequest(request, schema) }
  }
  /** Elicits `requestedSchema` from the calling client and answers what it said, prefixed with `said`. */
  const elicit = async (extra, { message, requestedSchema, said }) => {
    const { answer, refused } = await ask(extra, "elicitation", { method: "elicitation/create", params: { message, requestedSchema } }, ElicitResultSchema)
    if (refused !== undefined) return failed(`Cannot elicit: ${refused}`)
    return { content: [text(`${said}: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`)] }
  }

  const tools = new Map()
  const tool = (name, config, handler) => tools.set(name, server.registerTool(name, config, handler))

  tool("test_simple_text", { description: "Answers one text item" }, () => ({ content: [text("This is a simple text response for testing.")] }))
  tool("test_image_content", { description: "Answers a 1×1 PNG" }, () => ({ content: [{ type: "image", data: PNG, mimeType: "image/png" }] }))
  tool("test_audio_content", { description: "Answers a short silent WAV" }, () => ({ content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] }))
  tool("test_embedded_resource", { description: "Answers an embedded text resource" }, () => ({
    content: [{ type: "resource", resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." } }],
  }))
  tool("test_multiple_content_types", { description: "Answers text, an image and an embedded resource" }, () => ({
    content: [
      text("Multiple content types test:"),
      { type: "image", data: PNG, mimeType: "image/png" },
      { type: "resource", resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: '{"test":"data","value":123}' } },
    ],
  }))
  tool("test_tool_with_logging", { description: "Logs three info messages 50 ms apart while it runs" }, async (extra) => {
    await log(extra, "info", "Tool execution started")
    await sleep(50)
    await log(extra, "info", "Tool processing data")
    await sleep(50)
    await log(extra, "info", "Tool execution completed")
    return { content: [text("Logged three messages")] }
  })
  tool("test_tool_with_progress", { description: "Reports progress 0, 50 and 100 of 100, 50 ms apart" }, async (extra) => {
    const token = extra._meta?.progressToken
    for (const progress of [0, 50, 100]) {
      if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total: 100 } })
      if (progress < 100) await sleep(50)
    }
    return { content: [text(token === undefined ? "Done (no progress token was given)" : "Done, progress reported")] }
  })
  tool("test_error_handling", { description: "Always fails, as a tool error" }, () => failed("This tool intentionally returns an error for testing"))
  tool("test_reconnection", { description: "Closes its event stream before answering, so the client resumes it (Streamable HTTP)" }, async (extra) => {
    extra.closeSSEStream?.()
    await sleep(200)
    const how = extra.closeSSEStream === undefined ? "this transport cannot close a call's stream" : "after the stream closed"
    return { content: [text(`Answered (${how})`)] }
  })
  const sampling = { description: "Asks the client for an LLM completion of the prompt", inputSchema: z.object({ prompt: z.string() }) }
  tool("test_sampling", sampling, async ({ prompt }, extra) => {
    const { answer, refused } = await ask(
      extra,
      "sampling",
      { method: "sampling/createMessage", params: { messages: [{ role: "user", content: text(prompt) }], maxTokens: 100 } },
      CreateMessageResultSchema,
    )
    if (refused !== undefined) return failed(`Cannot sample: ${refused}`)
    return { content: [text(`LLM response: ${answer.content.type === "text" ? answer.content.text : JSON.stringify(answer.content)}`)] }
  })
  const elicitation = { description: "Asks the user for a username and an email", inputSchema: z.object({ message: z.string() }) }
  tool("test_elicitation", elicitation, ({ message }, extra) => {
    const requestedSchema = {
      type: "object",
      properties: { username: { type: "string", description: "User's response" }, email: { type: "string", description: "User's email address" } },
      required: ["username", "email"],
    }
    return elicit(extra, { message, requestedSchema, said: "User response" })
  })
  tool("test_elicitation_sep1034_defaults", { description: "Elicits fields of every primitive type, each with a default (SEP-1034)" }, (extra) => {
    const requestedSchema = {
      type: "object",
      properties: {
        name: { type: "string", description: "User name", default: "John Doe" },
        age: { type: "integer", description: "User age", default: 30 },
        score: { type: "number", description: "User score", default: 95.5 },
        status: { type: "string", description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
        verified: { type: "boolean", description: "Verification status", default: true },
      },
    }
    return elicit(extra, { message: "Confirm or change the defaults", requestedSchema, said: "Elicitation completed" })
  })
  tool("test_elicitation_sep1330_enums", { description: "Elicits the five enum forms of SEP-1330" }, (extra) => {
    const requestedSchema = {
      type: "object",
      properties: {
        untitledSingle: { type: "string", enum: ["option1", "option2", "option3"] },
        titledSingle: {
          type: "string",
          oneOf: [
            { const: "value1", title: "First Option" },
            { const: "value2", title: "Second Option" },
            { const: "value3", title: "Third Option" },
          ],
        },
        legacyEnum: { type: "string", enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"] },
        untitledMulti: { type: "array", items: { type: "string", enum: ["option1", "option2", "option3"] } },
        titledMulti: {
          type: "array",
          items: {
            anyOf: [
              { const: "value1", title: "First Choice" },
              { const: "value2", title: "Second Choice" },
              { const: "value3", title: "Third Choice" },
            ],
          },
        },
      },
    }
    return elicit(extra, { message: "Pick from each list", requestedSchema, said: "Elicitation completed" })
  })
  const address = z.object({ street: z.string(), city: z.string() }).meta({ id: "address" })
  tool(
    "json_schema_2020_12_tool",
    {
      description: "Takes a name and an address; its input schema uses $defs and forbids other properties",
      inputSchema: z.object({ name: z.string(), address }).strict(),
    },
    ({ name, address: where }) => ({ content: [text(`${name}, ${where.street}, ${where.city}`)] }),
  )
  // MCP 2025-11-25 makes JSON Schema 2020-12 the default dialect (SEP-1613); McpServer 1.x lists draft-07,
  // so the list is the fixture's own: the same tools, their schemas converted for 2020-12.
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...tools]
      .filter(([, t]) => t.enabled)
      .map(([name, t]) => ({
        name,
        description: t.description,
        inputSchema: t.inputSchema === undefined ? { type: "object", properties: {} } : z.toJSONSchema(t.inputSchema, { target: "draft-2020-12", io: "input" }),
      })),
  }))

  server.registerResource("static-text", "test://static-text", { description: "A text resource", mimeType: "text/plain" }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: "This is the content of the static text resource." }],
  }))
  server.registerResource("static-binary", "test://static-binary", { description: "A binary resource (a PNG)", mimeType: "image/png" }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: "image/png", blob: PNG }],
  }))
  server.registerResource(
    "template-data",
    new ResourceTemplate("test://template/{id}/data", { list: undefined }),
    { description: "Data for an id", mimeType: "application/json" },
    (uri, { id }) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }],
    }),
  )
  server.registerResource("watched-resource", "test://watched-resource", { description: "A resource to subscribe to", mimeType: "text/plain" }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: "Watched resource content" }],
  }))
  const subscribed = new Set()
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    subscribed.add(request.params.uri)
    return {}
  })
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscribed.delete(request.params.uri)
    return {}
  })

  server.registerPrompt("test_simple_prompt", { description: "A prompt without arguments" }, () => ({
    messages: [{ role: "user", content: text("This is a simple prompt for testing.") }],
  }))
  server.registerPrompt(
    "test_prompt_with_arguments",
    {
      description: "A prompt with two arguments (the first completes)",
      argsSchema: {
        arg1: completable(z.string().describe("First test argument"), (value) => CITIES.filter((v) => v.startsWith(value))),
        arg2: z.string().describe("Second test argument"),
      },
    },
    ({ arg1, arg2 }) => ({ messages: [{ role: "user", content: text(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`) }] }),
  )
  server.registerPrompt(
    "test_prompt_with_embedded_resource",
    { description: "A prompt embedding the resource it is given", argsSchema: { resourceUri: z.string().describe("URI of the resource to embed") } },
    ({ resourceUri }) => ({
      messages: [
        { role: "user", content: { type: "resource", resource: { uri: resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } } },
        { role: "user", content: text("Please process the embedded resource above.") },
      ],
    }),
  )
  server.registerPrompt("test_prompt_with_image", { description: "A prompt with an image" }, () => ({
    messages: [
      { role: "user", content: { type: "image", data: PNG, mimeType: "image/png" } },
      { role: "user", content: text("Please analyze the image above.") },
    ],
  }))
  return server
}
