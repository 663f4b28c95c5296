#!/usr/bin/env bash
# The official MCP conformance suite against server-everything directly and through the DTMA's
# proxied endpoint (`/mcp-servers/<name>/mcp`); prints both lists of passed scenarios and fails
# when the DTMA misses one the direct server passes. Needs the machine set up (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/usr/local/bin:$PATH
exec node scripts/conformance.ts
