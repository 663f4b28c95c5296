import { controlPlaneContract, RecordingControlPlane, type BackendFault, type ControlPlaneFault } from "../../src/index.ts"

const asFault: Record<BackendFault, ControlPlaneFault> = {
  unreachable: "unavailable",
  server_error: "server_error",
  busy: "busy",
  silent: "timeout",
  unknown_token: "rejected",
  bad_request: "bad_request",
}

controlPlaneContract("RecordingControlPlane", async () => {
  const plane = new RecordingControlPlane({ timeoutMs: 50 })
  return {
    controlPlane: plane,
    failNext: (fault) => plane.failNext(asFault[fault]),
    accepted: () => plane.received,
    token: "dtma-token-never-shown",
    timeoutMs: plane.timeoutMs,
  }
})
