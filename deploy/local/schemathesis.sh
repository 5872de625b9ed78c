#!/usr/bin/env bash
# The OpenAPI document against the server: schemathesis (PyPI) runs every check on every public-port
# operation, as a tenant admin, and fails on any failure. Starts the local stack with up.sh (built
# already by the tests in CI), creates a tenant of its own for the run (a tenant the fuzzer changed
# in an earlier run would answer differently), signs in as its admin, and stops the stack afterwards.
#
#   bash deploy/local/schemathesis.sh
#
# What the document cannot say is in deploy/local/schemathesis.toml. The seed is fixed, so a run is
# repeatable; SCHEMATHESIS_SEED=<n> tries another.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VERSION="4.32.5"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/causerie-tools/schemathesis-$VERSION"

say() { printf '[schemathesis] %s\n' "$*"; }

if [[ ! -x "$VENV/bin/st" ]]; then
    python3 -c 'import ensurepip' 2>/dev/null || {
        say "installing python3-venv (Debian) for schemathesis's virtualenv"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    }
    say "installing schemathesis $VERSION (pip, in $VENV)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi

# A namespace of its own (databases, queues, Redis keys): the fuzzer's thousands of failed sign-ins
# and reset requests from 127.0.0.1 must not lock the address out of the local stack's namespace,
# and its counters start empty at every run.
export CAUSERIE_NAMESPACE="causerie_schemathesis"
redis-cli --scan --pattern "$CAUSERIE_NAMESPACE:*" | xargs -r redis-cli del >/dev/null
export CAUSERIE_BOOTSTRAP_STAFF_EMAIL="${CAUSERIE_BOOTSTRAP_STAFF_EMAIL:-staff@causerie.local}"
export CAUSERIE_BOOTSTRAP_STAFF_PASSWORD="${CAUSERIE_BOOTSTRAP_STAFF_PASSWORD:-local-staff-password-2026}"
ADMIN_PASSWORD="schemathesis admin passphrase"
bash deploy/local/up.sh >target/schemathesis-up.log 2>&1 || { tail -n 40 target/schemathesis-up.log >&2; exit 1; }
trap 'bash deploy/local/down.sh --quiet' EXIT

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
staff_token="$(curl -fsS http://127.0.0.1:8081/admin/v1/auth/login -H 'content-type: application/json' \
    -d "{\"email\": \"$CAUSERIE_BOOTSTRAP_STAFF_EMAIL\", \"password\": \"$CAUSERIE_BOOTSTRAP_STAFF_PASSWORD\"}" |
    json_field access_token)"
slug="schemathesis-$(date +%s)"
curl -fsS -o /dev/null http://127.0.0.1:8081/admin/v1/tenants -H 'content-type: application/json' \
    -H "Authorization: Bearer $staff_token" -d "{\"name\": \"Schemathesis\", \"slug\": \"$slug\",
      \"admin\": {\"email\": \"admin@$slug.example\", \"first_name\": \"Ada\", \"last_name\": \"Fuzz\",
                \"password\": \"$ADMIN_PASSWORD\"}}"
token="$(curl -fsS http://127.0.0.1:8080/v1/auth/login -H 'content-type: application/json' \
    -d "{\"tenant\": \"$slug\", \"email\": \"admin@$slug.example\", \"password\": \"$ADMIN_PASSWORD\"}" |
    json_field access_token)"

# Three operations would end the run's own access, and every later call would answer 401 or 403:
# publishing a legal notice (until the admin accepts it), and a user's change or erasure, which
# the fuzzer aims at the admin itself once it has read the users' ids. The end-to-end tests cover
# all three.
say "st run --checks all as tenant $slug's admin (the admin API is on its own port and left out)"
"$VENV/bin/st" --config-file "$ROOT/deploy/local/schemathesis.toml" run http://127.0.0.1:8080/v1/openapi.json \
    --checks all -H "Authorization: Bearer $token" --exclude-path-regex '^/admin/' \
    --exclude-name 'POST /v1/legal-notices' --exclude-name 'PATCH /v1/users/{id}' \
    --exclude-name 'DELETE /v1/users/{id}' \
    --phases examples,coverage,fuzzing --max-examples 20 --workers 2 --seed "${SCHEMATHESIS_SEED:-1}"
