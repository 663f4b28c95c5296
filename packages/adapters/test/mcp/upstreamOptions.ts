import type { UpstreamOptions } from "@dtma/domain"

/** The DTMA side of an upstream session to a v2 SDK server in these tests: a 2025-11-25 client that may be told 2026-07-28. */
export const v2UpstreamOptions: UpstreamOptions = {
  name: "v2",
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25"],
  initializeTimeoutMs: 2_000,
  maxInFlight: 4,
  maxQueued: 4,
}
