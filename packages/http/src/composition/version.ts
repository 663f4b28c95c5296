/** The version this DTMA reports in `/status` and heartbeats. */
export const DTMA_VERSION = "0.1.0"
