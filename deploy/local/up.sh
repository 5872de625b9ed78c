#!/usr/bin/env bash
# The one set-up command: dependencies, build, migrations, the whole platform in one background process,
# and a demo tenant. Re-run it at will: it stops the previous instance (from target/causerie.pid) first.
#
#   bash deploy/local/up.sh
#
# Logs: target/causerie.log. Stop: bash deploy/local/down.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

say() { printf '[up] %s\n' "$*"; }
die() { printf '[up] ERROR: %s\n' "$*" >&2; exit 1; }

bash deploy/local/deps.sh
# deps.sh writes target/deps.env only when PostgreSQL needs a password on this machine.
if [[ -f target/deps.env ]]; then
    # shellcheck disable=SC1091
    source target/deps.env
fi

# Local defaults (the binary has the same ones, except the staff password, which has none in production).
export CAUSERIE_BOOTSTRAP_STAFF_EMAIL="${CAUSERIE_BOOTSTRAP_STAFF_EMAIL:-staff@causerie.local}"
export CAUSERIE_BOOTSTRAP_STAFF_PASSWORD="${CAUSERIE_BOOTSTRAP_STAFF_PASSWORD:-local-staff-password-2026}"
export CAUSERIE_PUBLIC_ADDR="${CAUSERIE_PUBLIC_ADDR:-127.0.0.1:8080}"
export CAUSERIE_ADMIN_ADDR="${CAUSERIE_ADMIN_ADDR:-127.0.0.1:8081}"
export CAUSERIE_LOG="${CAUSERIE_LOG:-info}"
# The services' shared secret has no default outside the test mode: a fresh one per start, unless given.
CAUSERIE_SERVICE_SECRET="${CAUSERIE_SERVICE_SECRET:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}"
export CAUSERIE_SERVICE_SECRET

# Each database role has a password of its own, with no default either. They are made once, kept in
# target/causerie.env (readable by its owner only; bench/run.sh reads it too), and any given in the
# environment wins: the file's lines only set what is unset. `causerie migrate` sets them on the
# roles; each service logs in with its own.
SECRETS_ENV="$ROOT/target/causerie.env"
mkdir -p "$ROOT/target"
touch "$SECRETS_ENV"
chmod 600 "$SECRETS_ENV"
# shellcheck disable=SC1090
source "$SECRETS_ENV"
for service in ACCOUNTS ASSISTANT LIVE_CHAT FORMS_ANALYTICS RETENTION; do
    roles=("" RELAY_)
    [[ "$service" == ACCOUNTS ]] && roles+=(MAILER_)
    for role in "${roles[@]}"; do
        variable="CAUSERIE_${service}_${role}DATABASE_PASSWORD"
        if ! grep -q "^: \"\${$variable:=" "$SECRETS_ENV"; then
            printf ': "${%s:=%s}"; export %s\n' "$variable" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" \
                "$variable" >>"$SECRETS_ENV"
        fi
    done
done
# shellcheck disable=SC1090
source "$SECRETS_ENV"

# CAUSERIE_BIN=/path/to/causerie uses that binary (e.g. target/release/causerie) and skips the build.
if [[ -n "${CAUSERIE_BIN:-}" ]]; then
    BIN="$(realpath "$CAUSERIE_BIN")"
    say "using $BIN (CAUSERIE_BIN), no build"
else
    say "building causerie (dev profile)"
    cargo build -p causerie
    BIN="$ROOT/target/debug/causerie"
fi
[[ -x "$BIN" ]] || die "$BIN is not an executable"

bash deploy/local/down.sh --quiet

say "running migrations (as the owner of CAUSERIE_DATABASE_URL)"
"$BIN" migrate

# The running services get the server without the owner's credentials: each logs in as its own roles.
server_url="$(python3 -c 'import sys, urllib.parse as u
url = u.urlsplit(sys.argv[1])
host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
host += f":{url.port}" if url.port else ""
print(u.urlunsplit(url._replace(netloc=host)))' "${CAUSERIE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}")"

say "starting causerie run --services all (logs: target/causerie.log)"
CAUSERIE_DATABASE_URL="$server_url" nohup "$BIN" run --services all >>target/causerie.log 2>&1 </dev/null &
echo $! >target/causerie.pid
pid="$(cat target/causerie.pid)"

public_url="http://$CAUSERIE_PUBLIC_ADDR"
admin_url="http://$CAUSERIE_ADMIN_ADDR"
for url in "$public_url/readyz" "$admin_url/readyz"; do
    ready=0
    for _ in $(seq 1 60); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 target/causerie.log >&2
            die "causerie (pid $pid) exited during start-up; see target/causerie.log"
        fi
        if curl -fsS -o /dev/null --max-time 2 "$url"; then
            ready=1
            break
        fi
        sleep 1
    done
    [[ "$ready" == 1 ]] || { tail -n 40 target/causerie.log >&2; die "$url did not answer 200 within 60 s"; }
    say "$url is ready"
done

say "creating the demo tenant"
"$BIN" demo

cat <<INFO

Causerie is running (pid $pid, logs target/causerie.log, stop with: bash deploy/local/down.sh)

  public REST API + widget   $public_url/v1          health: $public_url/healthz  $public_url/readyz
  OpenAPI document           $public_url/v1/openapi.json
  JWKS                       $public_url/.well-known/jwks.json
  admin API (staff only)     $admin_url/admin/v1     metrics: $admin_url/metrics
  services (gRPC + /healthz /readyz /metrics on the same port)
    accounts 127.0.0.1:50051  assistant 127.0.0.1:50052  live-chat 127.0.0.1:50053
    forms-analytics 127.0.0.1:50054  retention 127.0.0.1:50055

  staff login        $CAUSERIE_BOOTSTRAP_STAFF_EMAIL / $CAUSERIE_BOOTSTRAP_STAFF_PASSWORD
                     curl -s $admin_url/admin/v1/auth/login -H 'content-type: application/json' \\
                       -d '{"email":"$CAUSERIE_BOOTSTRAP_STAFF_EMAIL","password":"$CAUSERIE_BOOTSTRAP_STAFF_PASSWORD"}'
  demo tenant admin  tenant "demo", admin@demo.example / demo-admin-password-2026
                     curl -s $public_url/v1/auth/login -H 'content-type: application/json' \\
                       -d '{"tenant":"demo","email":"admin@demo.example","password":"demo-admin-password-2026"}'
INFO
