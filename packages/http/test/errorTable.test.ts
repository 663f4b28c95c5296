import { Effect } from "effect"
import {
  ImageUnavailable,
  InstanceAlreadyExists,
  InstanceNotFound,
  InvalidInstanceSpec,
  NameTakenByUnmanagedContainer,
  PortConflict,
  RuntimeOperationFailed,
  RuntimeUnavailable,
} from "@dtma/domain"
import { describe, expect, it } from "vitest"
import { ERROR_TABLE, replyForFailure, type HttpFailure, type Operation } from "../src/errorTable.ts"
import { MissingRequiredFields } from "../src/MissingRequiredFields.ts"
import { replyOf } from "../src/replyOf.ts"
import { capturingLogger } from "./support.ts"

const deploy: Operation = { verb: "deploy", name: "tool-a" }

// The whole table, pinned: a change here is a change to the API.
const PINNED: ReadonlyArray<readonly [HttpFailure, Operation, number, unknown]> = [
  [
    new MissingRequiredFields({ fields: ["dockerImageUrl"] }),
    deploy,
    400,
    { success: false, error: "Missing required fields: dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId" },
  ],
  [
    new InvalidInstanceSpec({ field: "instanceNameOnToolbox", problem: "must not be empty" }),
    deploy,
    400,
    { success: false, error: "Invalid instanceNameOnToolbox: must not be empty", code: "invalid_request" },
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

  it("answers a defect with a bare 500 and logs it as a bug", async () => {
    const { logger, lines } = capturingLogger()
    const reply = await replyOf(Effect.die(new Error("invariant broken")), { operation: deploy, logger, onSuccess: ok })
    expect(reply).toEqual({ status: 500, body: { success: false, error: "Internal error" } })
    expect(lines.join("\n")).toMatch(/invariant broken/)
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "error", msg: "defect while handling a request (a bug)" })
  })

  it("logs a failure answered with a 5xx", async () => {
    const { logger, lines } = capturingLogger()
    await replyOf(Effect.fail(new RuntimeUnavailable({ detail: "down" })), { operation: deploy, logger, onSuccess: ok })
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ level: "warn", failure: "RuntimeUnavailable" })
  })
})
