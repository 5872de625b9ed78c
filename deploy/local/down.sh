#!/usr/bin/env bash
# Stops the causerie process that up.sh started (pid in target/causerie.pid). Leaves PostgreSQL, Redis and
# RabbitMQ running. `--quiet` says nothing when there is nothing to stop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PID_FILE="$ROOT/target/causerie.pid"
quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1

say() { printf '[down] %s\n' "$*"; }

if [[ ! -f "$PID_FILE" ]]; then
    [[ "$quiet" == 1 ]] || say "no $PID_FILE: nothing to stop"
    exit 0
fi
pid="$(cat "$PID_FILE")"
# Only stop the process if it is still our causerie binary (the pid may have been reused since).
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q causerie "/proc/$pid/cmdline" 2>/dev/null; then
    say "stopping causerie (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after 30 s: SIGKILL"
        kill -KILL "$pid" || true
    fi
    say "stopped"
else
    [[ "$quiet" == 1 ]] || say "pid $pid is not running"
fi
rm -f "$PID_FILE"
