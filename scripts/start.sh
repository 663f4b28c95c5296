#!/usr/bin/env bash
# Installs what the DTMA needs (Node 24, pnpm, the Docker engine, the example images) and starts it
# on port 30000 in the background. `--foreground` keeps it attached to the terminal instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/usr/local/bin:$PATH

state_dir=${DTMA_STATE_DIR:-/var/lib/dtma}
log_file=${DTMA_LOG_FILE:-/var/log/dtma.log}
port=${PORT:-30000}
pid_file=$state_dir/dtma.pid
mkdir -p "$state_dir" && chmod 700 "$state_dir"
export DTMA_STATE_DIR=$state_dir
# V8 takes heap sizes only at start: the flags live in one file, read by the bench and the soak too.
mapfile -t node_flags < packages/http/node-flags
# The DTMA runs as JavaScript (packages/*/dist), without Node's type stripper in its memory.
pnpm -s build

if [ "${1:-}" = "--foreground" ]; then
  exec node "${node_flags[@]}" --conditions=dtma-built packages/http/dist/main.js
fi
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "The DTMA is already running (pid $(cat "$pid_file")); stop it with: bash scripts/stop.sh" >&2
  exit 0
fi
nohup node "${node_flags[@]}" --conditions=dtma-built packages/http/dist/main.js >>"$log_file" 2>&1 &
echo $! >"$pid_file"
for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    echo "The DTMA is running on port $port (pid $(cat "$pid_file")); logs: $log_file"
    echo "Callers authenticate with Authorization: Bearer <token>; with no token configured the DTMA"
    echo "generated one in $state_dir/api-token (mode 0600)."
    exit 0
  fi
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
  sleep 0.2
done
echo "The DTMA did not come up; the end of $log_file:" >&2
tail -n 20 "$log_file" >&2
exit 1
