# shellcheck shell=bash
# Shared set-up for scripts/run, scripts/test and scripts/services. Source it, don't run it.
#
# Functions: ensure_python, ensure_venv, resolve_services, ensure_database NAME [SERVER_URL],
# stop_private_services, remove_private_data, private_services_status, plus small helpers
# (say, die, database_name URL, url_with_path URL PATH, redact_url URL).
#
# Environment it reads:
#   BAYAFFAIRS_DATABASE_URL, BAYAFFAIRS_REDIS_URL  used as they are when set
#   BAYAFFAIRS_SERVICES=auto|local|private         where PostgreSQL and Redis come from when those
#                                                  are not set (default auto: a running private
#                                                  server, else the local one, else a new private one)
#   BAYAFFAIRS_PYTHON                              interpreter to build .venv with (optional)

if [[ -n "${_BAYAFFAIRS_SETUP_SOURCED:-}" ]]; then
    return 0
fi
_BAYAFFAIRS_SETUP_SOURCED=1

BAYAFFAIRS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
VENV_DIR="$BAYAFFAIRS_ROOT/.venv"
VENV_PY="$VENV_DIR/bin/python"
DATA_DIR="$BAYAFFAIRS_ROOT/.data"
LOG_DIR="$DATA_DIR/logs"
PG_DATA="$DATA_DIR/pg"
PG_SOCK="$DATA_DIR/pgsock"
PG_LOG="$LOG_DIR/postgres.log"
PG_PRIVATE_PORT=55432
REDIS_DIR="$DATA_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"
REDIS_PRIVATE_PORT=56379

LOCAL_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_PG_URL="postgresql://postgres@127.0.0.1:5432/bayaffairs"
LOCAL_REDIS_URL="redis://127.0.0.1:6379/0"
PRIVATE_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:$PG_PRIVATE_PORT/postgres"
PRIVATE_PG_URL="postgresql://postgres@127.0.0.1:$PG_PRIVATE_PORT/bayaffairs"
PRIVATE_REDIS_URL="redis://127.0.0.1:$REDIS_PRIVATE_PORT/0"

PYTHON=""            # set by ensure_python
PG_BIN=""            # set by _find_pg_bindir
_APT_UPDATED=""

# ---------------------------------------------------------------------------------------------
# Messages and small helpers

say() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
    printf '==> ERROR: %s\n' "$*" >&2
    exit 1
}

_is_root() { [[ "$(id -u)" -eq 0 ]]; }
_can_apt() { _is_root && command -v apt-get >/dev/null 2>&1; }

# Show the end of a log file on stderr (after a failure).
_show_log() {
    local file=$1 lines=${2:-40}
    if [[ -s "$file" ]]; then
        printf -- '---- last %s lines of %s ----\n' "$lines" "${file#"$BAYAFFAIRS_ROOT"/}" >&2
        tail -n "$lines" "$file" >&2
        printf -- '----\n' >&2
    fi
}

# A URL with its password replaced by ***.
redact_url() {
    printf '%s\n' "$1" | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^@/]*@#\1:***@#'
}

# URL helpers (need .venv, so only after ensure_venv).
_url_tool() {
    "$VENV_PY" - "$@" <<'PY'
import sys
from urllib.parse import quote, unquote, urlsplit, urlunsplit

op, url = sys.argv[1], sys.argv[2]
parts = urlsplit(url)
if op == "dbname":
    print(unquote(parts.path.lstrip("/")))
elif op == "with-path":
    print(urlunsplit(parts._replace(path="/" + quote(sys.argv[3], safe=""))))
else:
    sys.exit(f"unknown operation {op}")
PY
}

# database_name URL: the database a PostgreSQL URL names (fails if it names none).
database_name() {
    local name
    name="$(_url_tool dbname "$1")" || return 1
    if [[ -z "$name" ]]; then
        die "$(redact_url "$1") names no database"
    fi
    printf '%s\n' "$name"
}

# url_with_path URL PATH: the same URL with its path (database name or Redis db number) replaced.
url_with_path() { _url_tool with-path "$1" "$2"; }

# _log_since FILE OFFSET TEXT: TEXT was written to FILE after byte OFFSET.
_log_since() {
    local tail_text
    tail_text="$(tail -c "+$(($2 + 1))" "$1" 2>/dev/null || true)"
    [[ "$tail_text" == *"$3"* ]]
}

# _wait_for SECONDS CMD...: retry CMD until it succeeds; fail after SECONDS.
_wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

# One set-up at a time per checkout (scripts/run and scripts/test started together).
# Every process started while the lock is held must close fd 9 ("9>&-"), or it keeps the lock.
_lock() {
    mkdir -p "$DATA_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$DATA_DIR/.setup.lock"
        if ! flock -n 9; then
            say "waiting for another set-up in this checkout to finish"
            flock -w 900 9 || die "timed out waiting for $DATA_DIR/.setup.lock"
        fi
    fi
}
_unlock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>&-
    fi
}

# apt_install PKG...: install the packages that are not installed yet (root + apt-get only).
apt_install() {
    local pkg status missing=()
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        if [[ "$status" != *"install ok installed"* ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    _can_apt || die "missing packages: ${missing[*]} (install them, or run this as root on Debian)"
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/apt.log"
    if [[ -z "$_APT_UPDATED" ]]; then
        say "apt-get update (log: ${log#"$BAYAFFAIRS_ROOT"/})"
        if ! apt-get update >>"$log" 2>&1 9>&-; then
            _show_log "$log"
            die "apt-get update failed"
        fi
        _APT_UPDATED=1
    fi
    say "apt-get install ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >>"$log" 2>&1 9>&-; then
        _show_log "$log"
        die "apt-get install ${missing[*]} failed"
    fi
}

# ---------------------------------------------------------------------------------------------
# Python and .venv

_python_usable() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

_pick_python() {
    local candidate
    for candidate in ${BAYAFFAIRS_PYTHON:+"$BAYAFFAIRS_PYTHON"} python3 python3.13 python3.12 \
        python3.11 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 && _python_usable "$candidate"; then
            PYTHON="$("$candidate" -c 'import sys; print(sys.executable)')"
            return 0
        fi
    done
    return 1
}

ensure_python() {
    if ! _pick_python; then
        if _can_apt; then
            say "no python3 >= 3.11 with the venv module; installing Debian's Python"
            apt_install python3 python3-venv python3-dev gcc
        fi
        _pick_python || die "need python3 >= 3.11 with the venv module" \
            "(Debian: apt-get install python3 python3-venv python3-dev gcc)"
    fi
    say "Python: $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
}

# sha256 of the files that decide what is installed (requirements.lock, else pyproject's lists).
_install_inputs_hash() {
    local f files=()
    for f in pyproject.toml setup.cfg requirements.lock; do
        if [[ -f "$BAYAFFAIRS_ROOT/$f" ]]; then
            files+=("$f")
        fi
    done
    (cd "$BAYAFFAIRS_ROOT" && sha256sum "${files[@]}" | sha256sum | cut -c1-64)
}

ensure_venv() {
    local stamp="$VENV_DIR/.bayaffairs-install-stamp" log="$LOG_DIR/pip-install.log"
    local fresh="" want
    _lock
    mkdir -p "$LOG_DIR"
    if [[ -e "$VENV_DIR" ]] && ! "$VENV_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        >/dev/null 2>&1; then
        say ".venv is broken or older than Python 3.11: recreating it"
        rm -rf "$VENV_DIR"
    fi
    if [[ ! -e "$VENV_DIR" ]]; then
        [[ -n "$PYTHON" ]] || _pick_python || die "no usable python3: run ensure_python first"
        say "creating .venv"
        if ! "$PYTHON" -m venv "$VENV_DIR" >"$log" 2>&1; then
            _show_log "$log"
            die "python -m venv failed"
        fi
        fresh=1
    fi
    want="$(_install_inputs_hash)"
    if [[ -z "$fresh" && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
        say ".venv is up to date"
        _unlock
        return 0
    fi
    : >"$log"
    if [[ -n "$fresh" ]]; then
        say "upgrading pip in the new .venv"
        if ! "$VENV_PY" -m pip install --disable-pip-version-check --upgrade pip >>"$log" 2>&1; then
            _show_log "$log" 60
            die "upgrading pip failed (full log: ${log#"$BAYAFFAIRS_ROOT"/})"
        fi
    fi
    if [[ -f "$BAYAFFAIRS_ROOT/requirements.lock" ]]; then
        # Exactly the locked releases, each checked against its hash; then the project itself.
        say "installing requirements.lock (hashes checked) and bayaffairs into .venv (log: ${log#"$BAYAFFAIRS_ROOT"/})"
        if ! (cd "$BAYAFFAIRS_ROOT" &&
            "$VENV_PY" -m pip install --disable-pip-version-check --require-hashes -r requirements.lock &&
            "$VENV_PY" -m pip install --disable-pip-version-check --no-deps -e .) >>"$log" 2>&1; then
            _show_log "$log" 60
            die "installing requirements.lock failed (full log: ${log#"$BAYAFFAIRS_ROOT"/})"
        fi
    else
        say "installing bayaffairs[dev] into .venv, unlocked (log: ${log#"$BAYAFFAIRS_ROOT"/})"
        if ! (cd "$BAYAFFAIRS_ROOT" &&
            "$VENV_PY" -m pip install --disable-pip-version-check -e '.[dev]') >>"$log" 2>&1; then
            _show_log "$log" 60
            die "pip install -e '.[dev]' failed (full log: ${log#"$BAYAFFAIRS_ROOT"/})"
        fi
    fi
    printf '%s\n' "$want" >"$stamp"
    _unlock
}

# ---------------------------------------------------------------------------------------------
# Probes

# _pg_accepts URL: a PostgreSQL server takes a password-less connection there.
_pg_accepts() {
    if command -v psql >/dev/null 2>&1; then
        PGCONNECT_TIMEOUT=3 psql -X -w -q -At -d "$1" -c 'select 1' >/dev/null 2>&1 </dev/null
    else
        "$VENV_PY" - "$1" >/dev/null 2>&1 <<'PY'
import asyncio
import sys

import asyncpg


async def main(url):
    conn = await asyncpg.connect(url, timeout=3)
    try:
        await conn.fetchval("select 1")
    finally:
        await conn.close()


asyncio.run(main(sys.argv[1]))
PY
    fi
}

# _redis_accepts HOST PORT: a Redis server answers PING there.
_redis_accepts() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ "$(timeout 5 redis-cli -h "$1" -p "$2" ping 2>/dev/null </dev/null)" == PONG ]]
    else
        "$VENV_PY" - "$1" "$2" >/dev/null 2>&1 <<'PY'
import sys

import redis

client = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), socket_timeout=3,
                     socket_connect_timeout=3)
sys.exit(0 if client.ping() else 1)
PY
    fi
}

# ---------------------------------------------------------------------------------------------
# Private PostgreSQL under .data/pg

# Run a command as the user that owns the private cluster (postgres when we are root).
_as_pg() {
    if _is_root; then
        (cd / && runuser -u postgres -- "$@" 9>&-)
    else
        "$@" 9>&-
    fi
}

# Sets PG_BIN: the binaries matching .data/pg if it exists, else the highest installed version.
_find_pg_bindir() {
    local dir ver best versions=()
    PG_BIN=""
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        ver="$(<"$PG_DATA/PG_VERSION")"
        if [[ -x "/usr/lib/postgresql/$ver/bin/pg_ctl" ]]; then
            PG_BIN="/usr/lib/postgresql/$ver/bin"
            return 0
        fi
        return 2
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            ver="${dir#/usr/lib/postgresql/}"
            versions+=("${ver%/bin}")
        fi
    done
    if ((${#versions[@]} > 0)); then
        best="$(printf '%s\n' "${versions[@]}" | sort -V | tail -n 1)"
        PG_BIN="/usr/lib/postgresql/$best/bin"
        return 0
    fi
    return 1
}

_private_pg_alive() {
    local pid
    [[ -s "$PG_DATA/postmaster.pid" ]] || return 1
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# Give user postgres search (x) permission on every directory down to the checkout.
_grant_postgres_traversal() {
    local part path="" parts dirs=(/)
    IFS=/ read -r -a parts <<<"${BAYAFFAIRS_ROOT#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        dirs+=("$path")
    done
    for path in "${dirs[@]}"; do
        if runuser -u postgres -- test -x "$path" 2>/dev/null; then
            continue
        fi
        if ! command -v setfacl >/dev/null 2>&1; then
            say "setfacl is missing: installing the acl package"
            apt_install acl
        fi
        say "user postgres cannot enter $path: granting it (setfacl -m u:postgres:x $path)"
        setfacl -m u:postgres:x "$path" || die "setfacl on $path failed; move the checkout" \
            "somewhere user postgres can reach, or set BAYAFFAIRS_DATABASE_URL"
    done
}

_write_private_pg_conf() {
    local sock="$PG_SOCK" conf="$PG_DATA/bayaffairs.conf"
    # A Unix socket path must fit in 107 bytes; past that, TCP only.
    if ((${#PG_SOCK} + 16 > 107)); then
        say "socket path under $PG_SOCK is too long for a Unix socket: private PostgreSQL uses TCP only"
        sock=""
    fi
    {
        echo "# Written by scripts/lib/setup.sh before every start of the private server."
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PRIVATE_PORT"
        echo "unix_socket_directories = '${sock//\'/\'\'}'"
    } >"$conf"
    if _is_root; then
        chown postgres:postgres "$conf"
    fi
    if ! grep -q "^include_if_exists = 'bayaffairs.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# scripts/lib/setup.sh: port, address and socket directory\n%s\n" \
            "include_if_exists = 'bayaffairs.conf'" >>"$PG_DATA/postgresql.conf"
    fi
}

start_private_postgres() {
    local rc=0 locale=C locales log="$LOG_DIR/initdb.log" attempt offset
    _find_pg_bindir || rc=$?
    if ((rc == 2)); then
        die "the private cluster in .data/pg was made by PostgreSQL $(<"$PG_DATA/PG_VERSION")," \
            "whose binaries are not installed; install them or remove it with 'make clean-data'"
    elif ((rc == 1)); then
        if ! _can_apt; then
            die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install PostgreSQL" \
                "(Debian: apt-get install postgresql) or set BAYAFFAIRS_DATABASE_URL"
        fi
        apt_install postgresql
        _find_pg_bindir || die "PostgreSQL was installed but no initdb/pg_ctl in /usr/lib/postgresql/*/bin"
    fi
    if _is_root && ! id postgres >/dev/null 2>&1; then
        die "there is no system user postgres to run the private PostgreSQL server as"
    fi

    mkdir -p "$DATA_DIR" "$LOG_DIR" "$PG_SOCK"
    touch "$PG_LOG"
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        rm -rf "$PG_DATA" # an interrupted initdb; nothing usable in it
        mkdir -p "$PG_DATA"
    fi
    if _is_root; then
        chmod 755 "$DATA_DIR" "$LOG_DIR"
        if [[ "$(stat -c %U "$PG_DATA")" != postgres ]]; then
            chown -R postgres:postgres "$PG_DATA"
        fi
        chown postgres:postgres "$PG_SOCK" "$PG_LOG"
        _grant_postgres_traversal
    fi

    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        locales="$(locale -a 2>/dev/null || true)"
        if grep -qiE '^c\.utf-?8$' <<<"$locales"; then
            locale=C.UTF-8
        fi
        say "initdb: new private PostgreSQL cluster in .data/pg ($PG_BIN)"
        if ! _as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
            --locale="$locale" >"$log" 2>&1; then
            _show_log "$log"
            die "initdb failed"
        fi
    fi
    _write_private_pg_conf

    if _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        say "reusing the running private PostgreSQL (.data/pg, port $PG_PRIVATE_PORT)"
    else
        say "starting private PostgreSQL (.data/pg, port $PG_PRIVATE_PORT, log: .data/logs/postgres.log)"
        for attempt in 1 2 3; do
            offset="$(stat -c %s "$PG_LOG")"
            if _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start >/dev/null 2>&1; then
                break
            fi
            # The port lies in Linux's ephemeral range: a passing client connection may hold it.
            if ((attempt < 3)) && _log_since "$PG_LOG" "$offset" "Address already in use"; then
                say "port $PG_PRIVATE_PORT is busy; retrying in 3 s"
                sleep 3
                continue
            fi
            _show_log "$PG_LOG"
            die "the private PostgreSQL did not start (is port $PG_PRIVATE_PORT taken?)"
        done
    fi
    if ! _wait_for 30 _pg_accepts "$PRIVATE_PG_ADMIN_URL"; then
        _show_log "$PG_LOG"
        die "the private PostgreSQL does not accept connections on 127.0.0.1:$PG_PRIVATE_PORT after 30 s"
    fi
}

# ---------------------------------------------------------------------------------------------
# Private Redis under .data/redis

_private_redis_pid() {
    local pid cmdline
    [[ -s "$REDIS_PIDFILE" ]] || return 1
    pid="$(<"$REDIS_PIDFILE")"
    if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        return 1
    fi
    if [[ -r "/proc/$pid/cmdline" ]]; then
        cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
        if [[ "$cmdline" != *redis* ]]; then
            return 1 # a recycled pid
        fi
    fi
    printf '%s\n' "$pid"
}

start_private_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        _can_apt || die "redis-server is not installed: install Redis" \
            "(Debian: apt-get install redis-server) or set BAYAFFAIRS_REDIS_URL"
        apt_install redis-server
        command -v redis-server >/dev/null 2>&1 || die "redis-server is still missing after installing it"
    fi
    mkdir -p "$REDIS_DIR" "$LOG_DIR"
    touch "$REDIS_LOG"
    if _private_redis_pid >/dev/null; then
        say "reusing the running private Redis (.data/redis, port $REDIS_PRIVATE_PORT)"
        _wait_for 30 _private_redis_ready ||
            die "the private Redis does not answer on 127.0.0.1:$REDIS_PRIVATE_PORT after 30 s"
        return 0
    fi
    say "starting private Redis (.data/redis, port $REDIS_PRIVATE_PORT, log: .data/logs/redis.log)"
    local attempt offset deadline
    for attempt in 1 2 3; do
        rm -f "$REDIS_PIDFILE"
        offset="$(stat -c %s "$REDIS_LOG")"
        if ! redis-server --port "$REDIS_PRIVATE_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
            --daemonize yes --pidfile "$REDIS_PIDFILE" --save "" --appendonly no \
            --logfile "$REDIS_LOG" >/dev/null 2>&1 </dev/null 9>&-; then
            _show_log "$REDIS_LOG"
            die "redis-server did not start"
        fi
        # It daemonizes before binding: watch the log for a bind failure while waiting.
        deadline=$((SECONDS + 30))
        while ((SECONDS < deadline)); do
            if _private_redis_ready; then
                return 0
            fi
            if _log_since "$REDIS_LOG" "$offset" "Address already in use"; then
                break
            fi
            sleep 0.5
        done
        if ((attempt < 3)) && _log_since "$REDIS_LOG" "$offset" "Address already in use"; then
            say "port $REDIS_PRIVATE_PORT is busy; retrying in 3 s"
            sleep 3
            continue
        fi
        break
    done
    _show_log "$REDIS_LOG"
    die "the private Redis does not answer on 127.0.0.1:$REDIS_PRIVATE_PORT (is the port taken?)"
}

# Our Redis (pid file alive) answers on its port; not some other server on the same port.
_private_redis_ready() {
    _private_redis_pid >/dev/null && _redis_accepts 127.0.0.1 "$REDIS_PRIVATE_PORT"
}

# ---------------------------------------------------------------------------------------------
# resolve_services

_resolve_database() {
    local mode=$1
    if [[ -n "${BAYAFFAIRS_DATABASE_URL:-}" ]]; then
        say "PostgreSQL: $(redact_url "$BAYAFFAIRS_DATABASE_URL") (from BAYAFFAIRS_DATABASE_URL)"
        return 0
    fi
    if [[ "$mode" == local ]] || { [[ "$mode" == auto ]] && ! _private_pg_alive; }; then
        if _pg_accepts "$LOCAL_PG_ADMIN_URL"; then
            export BAYAFFAIRS_DATABASE_URL="$LOCAL_PG_URL"
            say "PostgreSQL: $BAYAFFAIRS_DATABASE_URL (local server)"
            return 0
        fi
        if [[ "$mode" == local ]]; then
            die "BAYAFFAIRS_SERVICES=local but PostgreSQL on 127.0.0.1:5432 does not accept user" \
                "postgres without a password"
        fi
        say "no PostgreSQL on 127.0.0.1:5432 that accepts user postgres: using a private one"
    fi
    start_private_postgres
    export BAYAFFAIRS_DATABASE_URL="$PRIVATE_PG_URL"
    say "PostgreSQL: $BAYAFFAIRS_DATABASE_URL (private server)"
}

_resolve_redis() {
    local mode=$1
    if [[ -n "${BAYAFFAIRS_REDIS_URL:-}" ]]; then
        say "Redis: $(redact_url "$BAYAFFAIRS_REDIS_URL") (from BAYAFFAIRS_REDIS_URL)"
        return 0
    fi
    if [[ "$mode" == local ]] || { [[ "$mode" == auto ]] && ! _private_redis_pid >/dev/null; }; then
        if _redis_accepts 127.0.0.1 6379; then
            export BAYAFFAIRS_REDIS_URL="$LOCAL_REDIS_URL"
            say "Redis: $BAYAFFAIRS_REDIS_URL (local server)"
            return 0
        fi
        if [[ "$mode" == local ]]; then
            die "BAYAFFAIRS_SERVICES=local but no Redis answers on 127.0.0.1:6379"
        fi
        say "no Redis on 127.0.0.1:6379: using a private one"
    fi
    start_private_redis
    export BAYAFFAIRS_REDIS_URL="$PRIVATE_REDIS_URL"
    say "Redis: $BAYAFFAIRS_REDIS_URL (private server)"
}

resolve_services() {
    local mode="${BAYAFFAIRS_SERVICES:-auto}"
    case "$mode" in
    auto | local | private) ;;
    *) die "BAYAFFAIRS_SERVICES must be auto, local or private (not '$mode')" ;;
    esac
    _lock
    _resolve_database "$mode"
    _resolve_redis "$mode"
    _unlock
}

# ---------------------------------------------------------------------------------------------
# ensure_database NAME [SERVER_URL]: create database NAME on the server of SERVER_URL
# (default: BAYAFFAIRS_DATABASE_URL) unless it exists. Connects to that server's `postgres` db.

ensure_database() {
    local name=$1 server_url=${2:-${BAYAFFAIRS_DATABASE_URL:-}} admin_url result
    [[ -n "$name" ]] || die "ensure_database: no database name"
    [[ -n "$server_url" ]] || die "ensure_database: no server URL (run resolve_services first)"
    admin_url="$(url_with_path "$server_url" postgres)"
    if command -v psql >/dev/null 2>&1; then
        result="$(PGCONNECT_TIMEOUT=10 psql -X -w -q -At -v ON_ERROR_STOP=1 -v dbname="$name" \
            -d "$admin_url" <<'SQL'
select count(*) from pg_database where datname = :'dbname';
SQL
        )" || die "cannot query $(redact_url "$admin_url")"
        if [[ "$result" != 1 ]]; then
            PGCONNECT_TIMEOUT=10 psql -X -w -q -v ON_ERROR_STOP=1 -v dbname="$name" \
                -d "$admin_url" >/dev/null <<'SQL' || die "could not create database $name"
create database :"dbname";
SQL
            result=created
        fi
    else
        result="$("$VENV_PY" - "$admin_url" "$name" <<'PY'
import asyncio
import sys

import asyncpg


async def main(url, name):
    conn = await asyncpg.connect(url, timeout=10)
    try:
        if await conn.fetchval("select 1 from pg_database where datname = $1", name):
            print(1)
            return
        await conn.execute('create database "{}"'.format(name.replace('"', '""')))
        print("created")
    finally:
        await conn.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
PY
        )" || die "could not check or create database $name on $(redact_url "$admin_url")"
    fi
    if [[ "$result" == created ]]; then
        say "created database $name"
    else
        say "database $name exists"
    fi
}

# ---------------------------------------------------------------------------------------------
# Stopping and removing the private servers

stop_private_services() {
    local pid rc=0
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        _find_pg_bindir || rc=$?
        if ((rc != 0)); then
            warn "no binaries for the PostgreSQL version of .data/pg; cannot stop it with pg_ctl"
        elif _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
            say "stopping private PostgreSQL (port $PG_PRIVATE_PORT)"
            _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
                die "pg_ctl stop failed (see .data/logs/postgres.log)"
        else
            say "private PostgreSQL is not running"
        fi
    fi
    if pid="$(_private_redis_pid)"; then
        say "stopping private Redis (port $REDIS_PRIVATE_PORT, pid $pid)"
        kill "$pid"
        _wait_for 15 _not_running "$pid" || die "private Redis (pid $pid) did not stop"
        rm -f "$REDIS_PIDFILE"
    elif [[ -d "$REDIS_DIR" ]]; then
        say "private Redis is not running"
    fi
}

_not_running() { ! kill -0 "$1" 2>/dev/null; }

remove_private_data() {
    stop_private_services
    if [[ -d "$DATA_DIR" && "$DATA_DIR" == */.data ]]; then
        say "removing ${DATA_DIR}"
        rm -rf "$DATA_DIR"
    fi
}

private_services_status() {
    local pid
    if _private_pg_alive; then
        say "private PostgreSQL: running on 127.0.0.1:$PG_PRIVATE_PORT (.data/pg)"
    elif [[ -f "$PG_DATA/PG_VERSION" ]]; then
        say "private PostgreSQL: stopped (.data/pg)"
    else
        say "private PostgreSQL: none"
    fi
    if pid="$(_private_redis_pid)"; then
        say "private Redis: running on 127.0.0.1:$REDIS_PRIVATE_PORT (pid $pid)"
    else
        say "private Redis: not running"
    fi
}

# ---------------------------------------------------------------------------------------------
# ensure_browser: Debian's headless Chromium and its driver for the browser tests of the rider
# app and the counter console (tests/frontends/), installed like PostgreSQL when missing. The
# tests drive it with Playwright's Python client pointed at this binary: no browser download.

ensure_browser() {
    local chromium="${BAYAFFAIRS_CHROMIUM:-/usr/bin/chromium}"
    # A Chinese font too: without one the zh-Hant and zh-Hans pages (and their screenshots in
    # docs/screenshots) show empty boxes.
    if [[ -x "$chromium" ]] && [[ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]]; then
        return 0
    fi
    if _can_apt; then
        _lock
        apt_install chromium chromium-driver fonts-wqy-microhei
        _unlock
    fi
    [[ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]] ||
        warn "no Chinese font (Debian: apt-get install fonts-wqy-microhei): zh pages show boxes"
    [[ -x "$chromium" ]] || die "no Chromium at $chromium for the browser tests" \
        "(Debian: apt-get install chromium chromium-driver; or set BAYAFFAIRS_CHROMIUM)"
    say "Chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")"
}
