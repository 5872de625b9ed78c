#!/usr/bin/env bash
# The one test command: dependencies, then every test of the workspace.
#
#   bash deploy/local/test.sh
#
# Two nextest runs: first everything except the test that stops and restarts RabbitMQ (it would break the
# other tests' connections), then that test alone. Both must pass. Extra arguments go to both runs
# (e.g. --no-fail-fast).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

bash deploy/local/deps.sh
if [[ -f target/deps.env ]]; then
    # shellcheck disable=SC1091
    source target/deps.env
fi

BROKER_RESTART_TEST='relay_and_consumer_survive_broker_restart'

echo "[test] cargo nextest run --workspace (all but $BROKER_RESTART_TEST)"
cargo nextest run --workspace -E "not test($BROKER_RESTART_TEST)" "$@"

echo "[test] cargo nextest run -p causerie-bus ($BROKER_RESTART_TEST, alone)"
status=0
cargo nextest run -p causerie-bus -E "test($BROKER_RESTART_TEST)" "$@" || status=$?
# Whatever happened, leave the broker running for whoever comes next.
bash deploy/local/deps.sh >/dev/null
exit "$status"
