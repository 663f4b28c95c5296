#!/usr/bin/env bash
# The official MCP conformance suite (every server scenario `conformance list` names) against the
# project's own fixture server directly and through the DTMA (per-server endpoint over Streamable HTTP
# and stdio, and /mcp); prints the lists side by side and fails on a difference. Needs the machine set
# up (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/usr/local/bin:$PATH
exec node scripts/conformance.ts
