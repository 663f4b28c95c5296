#!/usr/bin/env bash
# One-shot setup for a development or CI machine (Debian 12, root): Node 24, pnpm 10, a running
# Docker engine, the workspace's dependencies and the local Docker images. Idempotent; when
# everything is already there it takes a few seconds. Works from any directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TC_LOG_TAG="setup"
# shellcheck source-path=SCRIPTDIR source=lib/toolchain.sh
source "$ROOT/scripts/lib/toolchain.sh"
cd "$ROOT"

START=$SECONDS
ensure_node24 || { tc_err "setup failed: Node 24"; exit 1; }
ensure_pnpm || { tc_err "setup failed: pnpm 10"; exit 1; }
ensure_docker || { tc_err "setup failed: Docker engine"; exit 1; }
tc_log "node ${TC_NODE_VERSION}, pnpm ${TC_PNPM_VERSION}, docker engine $(docker version --format '{{.Server.Version}}')"

if [[ -f pnpm-lock.yaml ]]; then
  tc_log "pnpm install --frozen-lockfile"
  # No TTY in CI: let pnpm recreate an incompatible node_modules instead of asking.
  pnpm install --frozen-lockfile --config.confirmModulesPurge=false >&2 ||
    { tc_err "setup failed: pnpm install --frozen-lockfile (is pnpm-lock.yaml in sync with package.json?)"; exit 1; }
else
  tc_log "no pnpm-lock.yaml: skipping pnpm install"
fi

bash "$ROOT/scripts/build-images.sh" || { tc_err "setup failed: building the Docker images"; exit 1; }
tc_log "setup done in $((SECONDS - START)) s"
