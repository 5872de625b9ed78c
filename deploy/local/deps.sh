#!/usr/bin/env bash
# Install (if missing) and start (if not answering) what Causerie needs on a Debian 12 machine:
# PostgreSQL 15, Redis 7, RabbitMQ 3.10 and cargo-nextest. Idempotent: run it as often as you like.
#
# Runs as root (CI and the dev machines here are root). Every wait is bounded; on a timeout it prints
# the relevant log and exits non-zero.
#
# PostgreSQL login. Causerie connects with CAUSERIE_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres, i.e. trust on 127.0.0.1, which is how the dev and CI machines
# are set up). A fresh Debian install asks for a password on TCP (scram-sha-256) instead. Rather than
# loosening pg_hba.conf, this script then gives the local `postgres` role the password `postgres`
# (through the Unix socket, as the postgres system user, which peer auth allows) and writes
#   export CAUSERIE_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
# to target/deps.env, which up.sh, test.sh and bench/run.sh source. Set CAUSERIE_DATABASE_URL yourself to
# point at another server and this script leaves PostgreSQL alone apart from checking it answers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$ROOT/target"
DEPS_ENV="$STATE_DIR/deps.env"
mkdir -p "$STATE_DIR"

say() { printf '[deps] %s\n' "$*"; }
die() { printf '[deps] ERROR: %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every second until it succeeds or time runs out.
wait_for() {
    local seconds="$1" # "$2" names what we wait for, for the reader
    shift 2
    local i
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    return 1
}

if [[ "$(id -u)" -ne 0 ]]; then
    die "run me as root (apt-get, pg_ctlcluster and rabbitmq-server need it)"
fi

# --- 1. packages -------------------------------------------------------------------------------------------
missing=()
command -v psql >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
if ((${#missing[@]})); then
    say "installing ${missing[*]} (and the rest of the set)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql redis-server rabbitmq-server >/dev/null
else
    say "postgresql, redis-server and rabbitmq-server are installed"
fi

# curl is used by up.sh and bench/run.sh; it is on every dev image but not guaranteed on a minimal one.
if ! command -v curl >/dev/null 2>&1; then
    say "installing curl"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq curl >/dev/null
fi

# A C compiler: ring (TLS, signatures) and mimalloc (the allocator) build C code with the cc crate.
if ! command -v cc >/dev/null 2>&1; then
    say "installing gcc"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq gcc libc6-dev >/dev/null
fi

# espeak-ng: the assistant's local text-to-speech (the `local` choice of a tenant's policy) runs it.
if ! command -v espeak-ng >/dev/null 2>&1; then
    say "installing espeak-ng"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq espeak-ng >/dev/null
fi

# No protoc: the build uses protox (pure Rust). cargo-nextest runs the tests.
if ! command -v cargo-nextest >/dev/null 2>&1; then
    command -v cargo >/dev/null 2>&1 || die "cargo is missing: install the Rust toolchain (rustup) first"
    say "installing cargo-nextest (a few minutes)"
    cargo install cargo-nextest --locked
else
    say "cargo-nextest is installed"
fi

# --- 2. PostgreSQL -----------------------------------------------------------------------------------------
pg_version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$pg_version" ]]; then
    pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    say "creating PostgreSQL cluster $pg_version/main"
    pg_createcluster "$pg_version" main >/dev/null
fi
if pg_isready -q -h 127.0.0.1 -p 5432; then
    say "postgresql $pg_version answers on 127.0.0.1:5432"
else
    say "starting postgresql $pg_version/main"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start ||
        say "pg_ctlcluster returned non-zero (already starting?), waiting for it anyway"
    wait_for 60 postgresql pg_isready -q -h 127.0.0.1 -p 5432 ||
        { tail -n 30 "/var/log/postgresql/postgresql-$pg_version-main.log" >&2 || true; die "postgresql did not answer within 60 s"; }
    say "postgresql answers on 127.0.0.1:5432"
fi

if [[ -n "${CAUSERIE_DATABASE_URL:-}" ]]; then
    say "CAUSERIE_DATABASE_URL is set by the caller; checking it answers"
    psql "$CAUSERIE_DATABASE_URL" -tAc 'select 1' >/dev/null || die "cannot log in with CAUSERIE_DATABASE_URL"
    rm -f "$DEPS_ENV"
elif psql -w -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    say "psql -h 127.0.0.1 -U postgres works without a password (the default URL works)"
    rm -f "$DEPS_ENV"
else
    if ! PGPASSWORD=postgres psql -w -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        say "TCP login as postgres needs a password: setting it to 'postgres' (local dev database only)"
        su postgres -c "psql -q -d postgres -c \"alter role postgres with password 'postgres'\"" >/dev/null
    fi
    PGPASSWORD=postgres psql -w -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null ||
        die "cannot log in to PostgreSQL as postgres over TCP; check pg_hba.conf"
    echo "export CAUSERIE_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres" >"$DEPS_ENV"
    say "wrote $DEPS_ENV (CAUSERIE_DATABASE_URL with the password); up.sh and test.sh source it"
fi

# --- 3. Redis ----------------------------------------------------------------------------------------------
if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    say "redis answers on 127.0.0.1:6379"
else
    say "starting redis-server"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 30 redis bash -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG' ||
        { tail -n 30 /var/log/redis/ci.log >&2 || true; die "redis did not answer within 30 s"; }
    say "redis answers on 127.0.0.1:6379"
fi

# --- 4. RabbitMQ -------------------------------------------------------------------------------------------
# `ping` answers while the node runs, even with the rabbit app stopped (`status` does not).
rabbit_node_up() { timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
rabbit_app_running() { timeout 15 rabbitmq-diagnostics -q check_running >/dev/null 2>&1; }

if rabbit_app_running; then
    say "rabbitmq answers (app running)"
else
    if rabbit_node_up; then
        # The node is up but the rabbit app is stopped, e.g. after an interrupted broker-restart test.
        say "rabbitmq node is up but its app is stopped: rabbitmqctl start_app"
        timeout 120 rabbitmqctl start_app
    else
        say "starting rabbitmq-server (detached)"
        rabbitmq-server -detached
        # await_startup waits for the node to boot; bound it ourselves as well.
        wait_for 60 "rabbitmq node" rabbit_node_up || true
        timeout 120 rabbitmqctl await_startup --timeout 110 >/dev/null 2>&1 || true
    fi
    wait_for 90 "rabbitmq app" rabbit_app_running || {
        tail -n 40 /var/log/rabbitmq/rabbit@*.log 2>/dev/null >&2 || true
        die "rabbitmq did not come up within the time limit"
    }
    say "rabbitmq answers (app running)"
fi
# AMQP port itself (guest/guest is allowed from localhost by default).
wait_for 30 "amqp port" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' || die "nothing listens on 127.0.0.1:5672"

say "ready: postgresql 127.0.0.1:5432, redis 127.0.0.1:6379, rabbitmq 127.0.0.1:5672"
