# What every benchmark script shares; sourced, not run. Load goes to this machine only.

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# check_knobs BASE_URL DURATION WARMUP: a loopback target and sane durations.
check_knobs() {
    case "$1" in
        http://127.*|http://localhost:*|http://localhost/*|http://\[::1\]*) ;;
        *) die "BENCH_BASE_URL must be a loopback address, got $1" ;;
    esac
    [[ "$2" =~ ^[0-9]+$ && "$2" -le 120 ]] || die "BENCH_DURATION must be 1..120 seconds"
    [[ "$3" =~ ^[0-9]+$ && "$3" -le 30 ]] || die "BENCH_WARMUP must be 0..30 seconds"
}

# require_tools TOOL...: installs what is missing with apt.
require_tools() {
    local tool package
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            package="$tool"
            [[ "$tool" == pgbench ]] && package=postgresql-contrib
            [[ "$tool" == psql ]] && package=postgresql-client
            say "installing $package (apt)"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
        fi
    done
}
