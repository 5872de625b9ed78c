#!/usr/bin/env bash
# The one test command: dependencies, then every test of the workspace.
#
#   bash deploy/local/test.sh
#
# Three runs, all of the one build:
#  1. nextest, every test but the end-to-end ones and the one that stops and restarts RabbitMQ (it
#     would break the other tests' connections);
#  2. the end-to-end binaries with the standard test runner, which runs a binary's tests as
#     threads of one process, so that they share one stack (nextest gives each test a process);
#  3. the broker-restart test, alone.
# All must pass. Extra arguments go to the nextest runs (e.g. --no-fail-fast).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

bash deploy/local/deps.sh
if [[ -f target/deps.env ]]; then
    # shellcheck disable=SC1091
    source target/deps.env
fi

BROKER_RESTART_TEST='relay_and_consumer_survive_broker_restart'

# The end-to-end test binaries of tests/tests/.
E2E_TESTS=()
for test_file in tests/tests/*.rs; do
    E2E_TESTS+=(--test "$(basename "$test_file" .rs)")
done

echo "[test] cargo nextest run --workspace (all but the end-to-end tests and $BROKER_RESTART_TEST)"
cargo nextest run --workspace -E "not package(causerie-e2e) and not test($BROKER_RESTART_TEST)" "$@"

echo "[test] cargo test --workspace ${E2E_TESTS[*]} (one shared stack per binary)"
cargo test --workspace "${E2E_TESTS[@]}"

echo "[test] cargo nextest run --workspace ($BROKER_RESTART_TEST, alone)"
status=0
cargo nextest run --workspace -E "test($BROKER_RESTART_TEST)" "$@" || status=$?
# Whatever happened, leave the broker running for whoever comes next.
bash deploy/local/deps.sh >/dev/null
exit "$status"
