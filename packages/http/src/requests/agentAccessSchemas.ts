import { MAX_AGENT_ID_LENGTH, MAX_GRANTS, MAX_PATTERN_LENGTH, MAX_PATTERNS, MAX_SERVER_NAME_LENGTH } from "@dtma/domain"
import { z } from "zod"
import { strict } from "./mcpSchemas.ts"

// The shape of the agent-access bodies. The domain's parser (`parseGrantsClaim`) then reads the
// grants as a token carries them: one server per item, named one way, patterns as the spec says.

const required = (what: string) => (issue: { readonly input: unknown }) => (issue.input === undefined ? `is required: ${what}` : `must be ${what}`)

const names = (what: string) =>
  z
    .array(z.string({ error: "must be a string" }), { error: "must be a list of names" })
    .optional()
    .describe(
      `${what} allowed, at most ${MAX_PATTERNS} of them, each at most ${MAX_PATTERN_LENGTH} characters; a trailing * matches a prefix; ` +
        "[] allows none; absent allows all",
    )

/** One grant, as the `grants` claim carries it (agent-access spec, "Access tokens"). */
export const grantClaim = strict({
  server: z.string({ error: "must be a string" }).optional().describe(`The server's instance name (at most ${MAX_SERVER_NAME_LENGTH} characters)`),
  accountToolInstanceId: z
    .string({ error: "must be a string" })
    .optional()
    .describe("Or the account tool instance the server was deployed for; an item names its server one way, not both"),
  tools: names("Tool names"),
  prompts: names("Prompt names"),
  resources: z.boolean({ error: "must be true or false" }).optional().describe("Resources and resource templates, all or none; default true"),
})

/** The body of `POST /agent-tokens`. */
export const issueAgentTokenBody = strict({
  agentId: z
    .string({ error: required(`a string, the agent's id (1 to ${MAX_AGENT_ID_LENGTH} characters)`) })
    .min(1, { error: `must be 1 to ${MAX_AGENT_ID_LENGTH} characters` })
    .max(MAX_AGENT_ID_LENGTH, { error: `must be 1 to ${MAX_AGENT_ID_LENGTH} characters` })
    .describe("The agent the token speaks for: its sub"),
  grants: z
    .array(grantClaim, { error: required("a list of grants") })
    .describe(`What the agent may use, at most ${MAX_GRANTS} items, one per server; [] allows nothing`),
  ttlSeconds: z
    .number({ error: "must be a whole number of seconds" })
    .int({ error: "must be a whole number of seconds" })
    .min(1, { error: "must be at least 1" })
    .optional()
    .describe("Lifetime in seconds; default 900, at most DTMA_AGENT_TOKEN_MAX_TTL_S (86400 unless configured)"),
})

export type IssueAgentTokenBody = z.infer<typeof issueAgentTokenBody>
