import { describe, expect, it } from "vitest"
import { SseError } from "@modelcontextprotocol/sdk/client/sse.js"
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js"
import { StdioFramingError } from "../../src/mcp/AttachStdioTransport.ts"
import { problemOf, problemReporter, type TransportProblem } from "../../src/mcp/transportProblems.ts"

const secret = "sk-live-0123456789abcdef"
type SseEvent = ConstructorParameters<typeof SseError>[2]

/** The error the SDK's parser raises for an event's data. */
const parseError = (data: string): Error => {
  try {
    JSONRPCMessageSchema.parse(JSON.parse(data))
  } catch (error) {
    return error as Error
  }
  throw new Error("it parsed")
}

describe("what the log hears of a transport's error", () => {
  const table: ReadonlyArray<[string, Error, Omit<TransportProblem, "first">]> = [
    ["a message that is not JSON", parseError(`${secret} is not json`), { kind: "not-json", detail: "the server sent a message that is not JSON" }],
    ["a replayed priming event ({})", parseError("{}"), { kind: "not-json-rpc", detail: "the server sent an event that is not a JSON-RPC message" }],
    [
      "JSON that is not a message",
      parseError(JSON.stringify({ token: secret })),
      { kind: "not-json-rpc", detail: "the server sent an event that is not a JSON-RPC message" },
    ],
    [
      "an HTTP refusal, with the body the SDK appends",
      new StreamableHTTPError(500, `Error POSTing to endpoint: ${secret}`),
      { kind: "http-status", detail: "the server answered HTTP 500" },
    ],
    [
      "an answer of an unexpected type",
      new StreamableHTTPError(-1, "Unexpected content type: text/html"),
      { kind: "http-status", detail: "the server answered with a content type MCP does not use" },
    ],
    [
      "a failed SSE stream",
      new SseError(502, "Non-200 status code (502)", new Event("error") as unknown as SseEvent),
      { kind: "connection", detail: "the event stream failed (HTTP 502)" },
    ],
    [
      "a dropped stream",
      new Error("SSE stream disconnected: TypeError: terminated"),
      { kind: "connection", detail: "SSE stream disconnected: TypeError: terminated" },
    ],
    [
      "a bad stdout line",
      new StdioFramingError("skipped a stdout line of 12 bytes that is not JSON", "not-json"),
      { kind: "not-json", detail: "skipped a stdout line of 12 bytes that is not JSON" },
    ],
  ]
  for (const [what, error, problem] of table) {
    it(`tells ${what} by its kind and a fixed sentence`, () => {
      expect(problemOf(error)).toEqual(problem)
    })
  }

  it("keeps any other message to its first line and 200 characters", () => {
    const { detail } = problemOf(new Error(`${"x".repeat(500)}\nsecond line`))
    expect(detail).toHaveLength(200)
    expect(detail).not.toContain("\n")
  })

  it("flags only the first problem of each kind on a connection", () => {
    const reported: Array<TransportProblem> = []
    const report = problemReporter((p) => reported.push(p))
    for (const data of ["{}", "{}", "nope", "{}"]) report(parseError(data))
    expect(reported.map((p) => [p.kind, p.first])).toEqual([
      ["not-json-rpc", true],
      ["not-json-rpc", false],
      ["not-json", true],
      ["not-json-rpc", false],
    ])
  })
})
