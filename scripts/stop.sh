#!/usr/bin/env bash
# Stops the DTMA started by scripts/start.sh. Its containers keep running; the next start adopts them.
set -euo pipefail
pid_file=${DTMA_STATE_DIR:-/var/lib/dtma}/dtma.pid
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  kill -TERM "$(cat "$pid_file")"
  for _ in $(seq 1 50); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.2; done
  rm -f "$pid_file"
  echo "The DTMA stopped; its containers are still running."
else
  echo "The DTMA is not running."
fi
