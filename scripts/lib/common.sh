# shellcheck shell=bash
# Helpers shared by scripts/run and scripts/test. Source it; do not execute it.
#
# Provides logging helpers and management of the local PostgreSQL
# (127.0.0.1:5432) and Redis (127.0.0.1:6379) services: start them when they
# are down, remember what was started, and stop exactly that again.

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
SERVICE_WAIT_SECS="${SERVICE_WAIT_SECS:-30}"
INSTALL_HINT="as root on Debian: apt-get install -y postgresql redis-server"

# Set to 1 by ensure_postgres / ensure_redis when this script started them.
STARTED_PG=0
STARTED_PG_VERSION=""
STARTED_REDIS=0

# Colours for the callers' output too (empty when stdout is not a terminal).
# shellcheck disable=SC2034
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    C_BOLD=$'\033[1m' C_RED=$'\033[31m' C_GREEN=$'\033[32m' C_YELLOW=$'\033[33m' C_RESET=$'\033[0m'
else
    C_BOLD="" C_RED="" C_GREEN="" C_YELLOW="" C_RESET=""
fi

say() { printf '%s\n' "${C_BOLD}==>${C_RESET} $*"; }
warn() { printf '%s\n' "${C_YELLOW}warning:${C_RESET} $*" >&2; }
err() { printf '%s\n' "${C_RED}error:${C_RESET} $*" >&2; }
die() {
    err "$@"
    exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# wait_for SECONDS DESCRIPTION CMD... : run CMD every 0.5 s until it succeeds
# or SECONDS have passed (then return 1).
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            err "timed out after ${secs}s waiting for ${what}"
            return 1
        fi
        sleep 0.5
    done
}

# url_host_port URL DEFAULT_PORT -> prints "host port" (brackets stripped from IPv6).
url_host_port() {
    local url=$1 default_port=$2 rest host port
    rest=${url#*://}
    rest=${rest%%/*}
    rest=${rest%%\?*}
    rest=${rest##*@}
    if [[ $rest == \[* ]]; then
        host=${rest%%]*}
        host=${host#[}
        port=${rest#*]}
        port=${port#:}
    else
        host=${rest%%:*}
        port=${rest#"$host"}
        port=${port#:}
    fi
    printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$default_port}"
}

# url_is_local_service URL DEFAULT_PORT EXPECTED_PORT: true when URL points at
# this machine on EXPECTED_PORT, i.e. at a service these scripts may manage.
url_is_local_service() {
    local host port
    read -r host port < <(url_host_port "$1" "$2")
    case "$host" in
        127.0.0.1 | localhost | ::1) [[ "$port" == "$3" ]] ;;
        *) return 1 ;;
    esac
}

# ---------------------------------------------------------------- PostgreSQL

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
    else
        # No client tools: at least check that the port accepts connections.
        (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
    fi
}

# First cluster version under /etc/postgresql (same as `ls /etc/postgresql | head -1`).
pg_version() {
    local d
    for d in /etc/postgresql/*/; do
        [[ -d "$d" ]] || continue
        d=${d%/}
        printf '%s\n' "${d##*/}"
        return 0
    done
    return 1
}

pg_installed() {
    command -v pg_ctlcluster >/dev/null 2>&1 && pg_version >/dev/null 2>&1
}

ensure_postgres() {
    if pg_ready; then
        return 0
    fi
    if ! pg_installed; then
        err "PostgreSQL is not running on ${PG_HOST}:${PG_PORT} and is not installed."
        err "Install it (${INSTALL_HINT}), or point DATABASE_URL at a running server."
        exit 1
    fi
    local ver
    ver=$(pg_version)
    say "Starting PostgreSQL ${ver} (cluster main)"
    if ! pg_ctlcluster --skip-systemctl-redirect "$ver" main start; then
        err "could not start PostgreSQL cluster ${ver}/main."
        is_root || err "pg_ctlcluster may need root: sudo pg_ctlcluster --skip-systemctl-redirect ${ver} main start"
        exit 1
    fi
    STARTED_PG=1
    STARTED_PG_VERSION=$ver
    wait_for "$SERVICE_WAIT_SECS" "PostgreSQL on ${PG_HOST}:${PG_PORT}" pg_ready || exit 1
}

# Allow password-less connections over TCP loopback (what the tests and the
# default DATABASE_URL use). Only called right after this script installed
# PostgreSQL itself: Debian's default is scram-sha-256 for host connections.
pg_trust_loopback() {
    local ver hba
    ver=$(pg_version) || return 0
    hba="/etc/postgresql/${ver}/main/pg_hba.conf"
    [[ -f "$hba" ]] || return 0
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        say "Allowing password-less loopback connections in ${hba}"
        {
            printf '%s\n' '# added by conveyor scripts/test: trust loopback TCP connections'
            printf '%s\n' 'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust'
            cat "$hba"
        } >"${hba}.conveyor.tmp"
        cat "${hba}.conveyor.tmp" >"$hba"
        rm -f "${hba}.conveyor.tmp"
    fi
    if pg_ready; then
        pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
    fi
}

stop_started_postgres() {
    if ((STARTED_PG)); then
        say "Stopping PostgreSQL ${STARTED_PG_VERSION} (started by this script)"
        pg_ctlcluster --skip-systemctl-redirect "$STARTED_PG_VERSION" main stop || warn "could not stop PostgreSQL"
        STARTED_PG=0
    fi
}

# --------------------------------------------------------------------- Redis

redis_ready() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
    else
        (
            exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 2 reply <&3 || exit 1
            [[ "$reply" == "+PONG"* ]]
        ) 2>/dev/null
    fi
}

ensure_redis() {
    if redis_ready; then
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        err "Redis is not running on ${REDIS_HOST}:${REDIS_PORT} and redis-server is not installed."
        err "Install it (${INSTALL_HINT}), or point REDIS_URL at a running server."
        exit 1
    fi
    say "Starting Redis on ${REDIS_HOST}:${REDIS_PORT}"
    if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no; then
        die "could not start redis-server"
    fi
    STARTED_REDIS=1
    wait_for "$SERVICE_WAIT_SECS" "Redis on ${REDIS_HOST}:${REDIS_PORT}" redis_ready || exit 1
}

stop_started_redis() {
    if ((STARTED_REDIS)); then
        say "Stopping Redis (started by this script)"
        if command -v redis-cli >/dev/null 2>&1; then
            redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        fi
        STARTED_REDIS=0
    fi
}

stop_started_services() {
    stop_started_redis
    stop_started_postgres
}
