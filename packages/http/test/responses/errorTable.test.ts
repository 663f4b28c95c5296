import { Effect } from "effect"
import {
  AuditLogUnreadable,
  CredentialDeliveryFailed,
  CredentialFetchFailed,
  ImageUnavailable,
  InstanceAlreadyExists,
  InstanceNotFound,
  InvalidInstanceSpec,
  InvalidRevocation,
  InvalidTokenRequest,
  IssuerKeysFailed,
  McpGroupExists,
  McpGroupNotFound,
  McpConnectFailed,
  McpRequestFailed,
  McpServerBusy,
  McpServerNotReady,
  McpServerUnavailable,
  NameTakenByUnmanagedContainer,
  NoOAuthConnections,
  PortConflict,
  RevocationStoreFailed,
  RuntimeOperationFailed,
  RuntimeUnavailable,
} from "@dtma/domain"
import { describe, expect, it } from "vitest"
import { ERROR_TABLE, replyForFailure, type HttpFailure, type Operation } from "../../src/responses/errorTable.ts"
import { MissingRequiredFields } from "../../src/requests/MissingRequiredFields.ts"
import { InvalidRequest } from "../../src/requests/InvalidRequest.ts"
import { replyOf } from "../../src/responses/replyOf.ts"
import { capturingLogger } from "../support/support.ts"

const deploy: Operation = { verb: "deploy", name: "tool-a" }
const deployMcp: Operation = { verb: "deploy", name: "mcp-a", subject: "mcp_server" }

// The whole table, pinned: a change here is a change to the API.
const PINNED: ReadonlyArray<readonly [HttpFailure, Operation, number, unknown]> = [
  [
    new MissingRequiredFields({ fields: ["dockerImageUrl"] }),
    deploy,
    400,
    { success: false, error: "Missing required fields: dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId" },
  ],
  [
    new InvalidInstanceSpec({ field: "name", problem: "must not be empty" }),
    deploy,
    400,
    { success: false, error: "Invalid instanceNameOnToolbox: must not be empty", code: "invalid_request" },
  ],
  [
    new InvalidInstanceSpec({ field: "memoryBytes", problem: "1024 is outside 6291456..4294967296 bytes (the operator's bounds)" }),
    deployMcp,
    400,
    { success: false, error: "Invalid HostConfig.Memory: 1024 is outside 6291456..4294967296 bytes (the operator's bounds)", code: "invalid_request" },
  ],
  [
    new InvalidRequest({ path: "baseConfigOverrideJson.Env[1]", problem: 'must be "NAME=value"' }),
    deploy,
    400,
    { success: false, error: 'Invalid baseConfigOverrideJson.Env[1]: must be "NAME=value"', code: "invalid_request" },
  ],
  [new InstanceAlreadyExists({ name: "tool-a" }), deploy, 409, { success: false, error: "Instance with name 'tool-a' already exists." }],
  [
    new PortConflict({ hostPort: 30001, heldBy: "managed_instance" }),
    deploy,
    409,
    { success: false, error: "Port conflict: Requested HostPort 30001 is already in use by a managed instance." },
  ],
  [
    new NameTakenByUnmanagedContainer({ name: "tool a", containerName: "tool-a-1" }),
    deploy,
    409,
    { success: false, error: "Instance name 'tool a' maps to container name 'tool-a-1', which a container not managed by this DTMA already uses." },
  ],
  [
    new InstanceNotFound({ name: "ghost" }),
    { verb: "start", name: "ghost" },
    404,
    { success: false, error: "Tool instance 'ghost' not found or not managed by this DTMA." },
  ],
  [
    new ImageUnavailable({ image: "img:1", reason: "pull_failed", detail: "denied" }),
    deploy,
    422,
    { success: false, message: "Failed to deploy tool 'tool-a'.", error: "Image 'img:1' is not available: pulling it failed (denied)." },
  ],
  [
    new RuntimeUnavailable({ detail: "socket closed" }),
    { verb: "remove", name: "tool-a" },
    503,
    { success: false, message: "Failed to remove tool instance 'tool-a'.", error: "The container runtime is unreachable: socket closed" },
  ],
  [
    new RuntimeOperationFailed({ operation: "stop", detail: "timeout" }),
    { verb: "stop", name: "tool-a" },
    502,
    { success: false, message: "Failed to stop tool instance 'tool-a'.", error: "The container runtime could not stop: timeout" },
  ],
  [
    new RuntimeUnavailable({ detail: "socket closed" }),
    { verb: "list" },
    503,
    { success: false, message: "Failed to list tool instances.", error: "The container runtime is unreachable: socket closed" },
  ],
  [
    new MissingRequiredFields({ fields: ["mcpTransportType"], required: ["dockerImageUrl", "mcpTransportType"] }),
    deployMcp,
    400,
    { success: false, error: "Missing required fields: dockerImageUrl, mcpTransportType" },
  ],
  [
    new InstanceNotFound({ name: "ghost" }),
    { verb: "get", name: "ghost", subject: "mcp_server" },
    404,
    { success: false, error: "MCP server 'ghost' not found or not managed by this DTMA.", code: "not_found" },
  ],
  [
    new McpServerNotReady({ name: "mcp-a", detail: "MCP connection failed (unreachable): connection refused", stderrTail: ["Error: bad flag", "usage: x"] }),
    deployMcp,
    502,
    {
      success: false,
      message: "Failed to deploy MCP server 'mcp-a'.",
      error:
        "MCP server 'mcp-a' did not become ready and was rolled back: MCP connection failed (unreachable): connection refused. " +
        "Last stderr lines: Error: bad flag | usage: x",
      code: "mcp_server_not_ready",
    },
  ],
  [
    new McpServerNotReady({ name: "tool-a", detail: "start timed out", stderrTail: [] }),
    deploy,
    502,
    {
      success: false,
      message: "Failed to deploy tool 'tool-a'.",
      error: "MCP server 'tool-a' did not become ready and was rolled back: start timed out.",
      code: "mcp_server_not_ready",
    },
  ],
  [
    new McpServerUnavailable({ name: "mcp-a", health: "stopped", detail: null }),
    { verb: "restart", name: "mcp-a", subject: "mcp_server" },
    503,
    {
      success: false,
      message: "Failed to restart MCP server 'mcp-a'.",
      error: "MCP server 'mcp-a' is stopped and cannot take calls now.",
      code: "mcp_server_unavailable",
    },
  ],
  [
    new McpServerBusy({ name: "mcp-a", inFlight: 32 }),
    { verb: "get", name: "mcp-a", subject: "mcp_server" },
    429,
    {
      success: false,
      message: "Failed to read MCP server 'mcp-a'.",
      error: "MCP server 'mcp-a' is saturated (32 requests in flight); retry later.",
      code: "mcp_server_busy",
    },
  ],
  [
    new McpConnectFailed({ reason: "timeout", detail: "no answer in 30000 ms" }),
    { verb: "start", name: "mcp-a", subject: "mcp_server" },
    502,
    {
      success: false,
      message: "Failed to start MCP server 'mcp-a'.",
      error: "MCP connection failed (timeout): no answer in 30000 ms",
      code: "mcp_connect_failed",
    },
  ],
  [
    new McpRequestFailed({ method: "tools/list", error: { code: -32603, message: "boom" } }),
    { verb: "logs", name: "mcp-a", subject: "mcp_server" },
    502,
    { success: false, message: "Failed to read the logs of MCP server 'mcp-a'.", error: "tools/list failed: boom (-32603)", code: "mcp_request_failed" },
  ],
  [
    new McpGroupExists({ groupId: "agent-1-mcp" }),
    { verb: "deploy", name: "agent-1-mcp", subject: "mcp_group" },
    409,
    { success: false, error: "MCP server group 'agent-1-mcp' already exists." },
  ],
  [
    new McpGroupNotFound({ groupId: "agent-1-mcp" }),
    { verb: "remove", name: "agent-1-mcp", subject: "mcp_group" },
    404,
    {
      success: false,
      error:
        "MCP server group 'agent-1-mcp' not found; groups deployed before the DTMA last started are not kept, " +
        "remove their servers through DELETE /mcp-servers/:name.",
      code: "not_found",
    },
  ],
  [
    new McpServerNotReady({ name: "mcp-a", detail: "start timed out", stderrTail: [] }),
    { verb: "deploy", name: "agent-1-mcp", subject: "mcp_group" },
    502,
    {
      success: false,
      message: "Failed to deploy MCP server group 'agent-1-mcp'.",
      error: "MCP server 'mcp-a' did not become ready and was rolled back: start timed out.",
      code: "mcp_server_not_ready",
    },
  ],
  [
    new CredentialFetchFailed({ reason: "reauthorization_required", connectionId: "github-1", detail: "the user must sign in again" }),
    deployMcp,
    502,
    {
      success: false,
      message: "Failed to deploy MCP server 'mcp-a'.",
      error: "The backend refused or failed to hand out credentials for connection 'github-1' (reauthorization_required): the user must sign in again",
      code: "oauth_reauthorization_required",
    },
  ],
  [
    new CredentialDeliveryFailed({ name: "mcp-a", reason: "not_memory_backed", detail: "/run/dtma is on ext4" }),
    { verb: "refresh_oauth", name: "mcp-a", subject: "mcp_server" },
    503,
    {
      success: false,
      message: "Failed to refresh the OAuth credentials of MCP server 'mcp-a'.",
      error: "Could not deliver credentials to 'mcp-a' (not_memory_backed): /run/dtma is on ext4",
      code: "credential_delivery_failed",
    },
  ],
  [
    new NoOAuthConnections({ name: "mcp-a" }),
    { verb: "refresh_oauth", name: "mcp-a", subject: "mcp_server" },
    409,
    { success: false, error: "MCP server 'mcp-a' has no OAuth connections.", code: "no_oauth_connections" },
  ],
  [
    new RuntimeUnavailable({ detail: "socket closed" }),
    { verb: "list", subject: "mcp_server" },
    503,
    { success: false, message: "Failed to list MCP servers.", error: "The container runtime is unreachable: socket closed" },
  ],
  [
    new InvalidTokenRequest({ field: "ttlSeconds", problem: "must be a whole number of seconds from 1 to 86400" }),
    { verb: "issue_token", name: "agent-1", subject: "agent" },
    400,
    { success: false, error: "Invalid ttlSeconds: must be a whole number of seconds from 1 to 86400", code: "invalid_request" },
  ],
  [
    new InvalidRevocation({ field: "tokenId", problem: "must be 1 to 256 characters" }),
    { verb: "revoke", name: "t", subject: "agent_token" },
    400,
    { success: false, error: "Invalid tokenId: must be 1 to 256 characters", code: "invalid_request" },
  ],
  [
    new IssuerKeysFailed({ reason: "unwritable", detail: "EACCES" }),
    { verb: "rotate_keys" },
    503,
    {
      success: false,
      message: "Failed to rotate the agent token signing key.",
      error: "The agent token signing keys could not be kept (unwritable): EACCES",
      code: "signing_keys_failed",
    },
  ],
  [
    new RevocationStoreFailed({ reason: "unwritable", detail: "ENOSPC" }),
    { verb: "revoke", name: "agent-1", subject: "agent" },
    503,
    {
      success: false,
      message: "Failed to revoke agent 'agent-1'.",
      error:
        "The agent token revocations could not be saved (unwritable): ENOSPC. " +
        "The revocation holds until the DTMA restarts; revoke again once the state directory is writable.",
      code: "revocation_not_kept",
    },
  ],
  [
    new AuditLogUnreadable({ detail: "EACCES on open /var/log/dtma/audit.jsonl" }),
    { verb: "list", subject: "audit" },
    503,
    {
      success: false,
      message: "Failed to read the audit log.",
      error: "The audit log could not be read: EACCES on open /var/log/dtma/audit.jsonl",
      code: "audit_unreadable",
    },
  ],
]

describe("the error table", () => {
  it("has a row for every failure a handler can meet, and no other", () => {
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...new Set(PINNED.map(([e]) => e._tag))].sort())
  })

  for (const [error, operation, status, body] of PINNED) {
    it(`answers ${error._tag} during ${operation.verb} with ${status}`, () => {
      expect(replyForFailure(error, operation)).toEqual({ status, body })
    })
  }
})

const ok = (value: string) => ({ status: 200, body: { value } })

describe("running a use case at the edge", () => {
  it("renders a success", async () => {
    const { logger } = capturingLogger()
    expect(await replyOf(Effect.succeed("done"), { operation: deploy, logger, onSuccess: ok })).toEqual({ status: 200, body: { value: "done" } })
  })

  it("renders an expected failure through the table", async () => {
    const { logger } = capturingLogger()
    const reply = await replyOf(Effect.fail(new InstanceNotFound({ name: "x" })), { operation: { verb: "stop", name: "x" }, logger, onSuccess: ok })
    expect(reply.status).toBe(404)
  })

  it("answers a defect with the legacy 500 body, saying what failed, and logs it as a bug", async () => {
    const { logger, lines } = capturingLogger()
    const reply = await replyOf(Effect.die(new Error("invariant broken")), { operation: deploy, logger, onSuccess: ok })
    expect(reply).toEqual({ status: 500, body: { success: false, message: expect.stringMatching(/^Failed to deploy tool '.+'\.$/), error: "Internal error" } })
    expect(JSON.stringify(reply.body)).not.toContain("invariant broken")
    expect(lines.join("\n")).toMatch(/invariant broken/)
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "error", msg: "defect while handling a request (a bug)" })
  })

  it("logs a failure answered with a 5xx", async () => {
    const { logger, lines } = capturingLogger()
    await replyOf(Effect.fail(new RuntimeUnavailable({ detail: "down" })), { operation: deploy, logger, onSuccess: ok })
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "warn", failure: "RuntimeUnavailable" })
  })
})
