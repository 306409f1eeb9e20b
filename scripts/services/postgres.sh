#!/usr/bin/env bash
# Throwaway PostgreSQL server on 127.0.0.1 for the pywire-auth test suite.
#
#   scripts/services/postgres.sh start    # install if needed, start (idempotent)
#   scripts/services/postgres.sh env      # print the export line for the tests
#   scripts/services/postgres.sh status   # exit 0 if our server is running
#   scripts/services/postgres.sh stop     # stop and delete the data dir
#
# `start` also prints the export line on stdout, so
#   eval "$(scripts/services/postgres.sh start)"
# works. Env: PG_PORT (default 55432), PYWIRE_AUTH_SERVICES_DIR
# (default /tmp/pywire-auth-services), PYWIRE_AUTH_SERVICE_TIMEOUT (default 30).
# shellcheck disable=SC2034  # read by _lib.sh
SERVICE_NAME=postgres
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

PG_PORT="${PG_PORT:-55432}"
PG_USER=pywire
PG_PASSWORD=pywire
PG_DB=pywire_auth_test
PG_OS_USER=postgres

BASE="$SERVICES_DIR/pg"
DATA="$BASE/data"
LOGFILE="$BASE/postgres.log"

print_env() {
    echo "export PYWIRE_AUTH_TEST_POSTGRES_URL=postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
}

# Newest /usr/lib/postgresql/<version>/bin that has a server in it.
find_bindir() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        if [ ! -x "$d/initdb" ] || [ ! -x "$d/pg_ctl" ] || [ ! -x "$d/postgres" ]; then continue; fi
        best="$(printf '%s\n%s\n' "$best" "$d" | sed '/^$/d' | sort -V | tail -n1)"
    done
    [ -n "$best" ] && echo "$best"
}

ensure_installed() {
    if ! BINDIR="$(find_bindir)"; then
        log "no PostgreSQL server under /usr/lib/postgresql/*/bin; installing"
        install_pkgs postgresql
        BINDIR="$(find_bindir)" || die "PostgreSQL server binaries still missing after installing 'postgresql'"
    fi
    is_root && { id "$PG_OS_USER" >/dev/null 2>&1 || die "system user '$PG_OS_USER' does not exist (normally created by the postgresql package)"; }
    log "using $BINDIR"
}

pg() { as_user "$PG_OS_USER" "$@"; }

# Our postmaster is alive (not merely a zombie) and accepts connections.
our_server_running() {
    [ -n "${BINDIR:-}" ] || BINDIR="$(find_bindir)" || return 1
    pid_alive "$DATA/postmaster.pid" \
        && pg "$BINDIR/pg_isready" -q -h "$DATA" -p "$PG_PORT" >/dev/null 2>&1
}

# shellcheck disable=SC2120  # extra psql args are optional
psql_super() {
    pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PG_PORT" -U postgres -d postgres "$@"
}

app_can_connect() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -q -w -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_USER" -d "$PG_DB" -tAc 'SELECT 1' >/dev/null 2>&1
}

setup_db() {
    log "ensuring role '$PG_USER' and database '$PG_DB'"
    psql_super <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
SQL
}

init_cluster() {
    log "initdb in $DATA"
    safe_rm_rf "$BASE"
    mkdir -p "$BASE"
    is_root && chown "$PG_OS_USER:" "$BASE"
    chmod 700 "$BASE"
    # The server user must be able to reach its directory.
    pg test -x "$BASE" || die "user '$PG_OS_USER' cannot access $BASE; pick a PYWIRE_AUTH_SERVICES_DIR whose parents are world-traversable"
    if ! pg "$BINDIR/initdb" -D "$DATA" -U postgres --encoding=UTF8 --no-locale \
            --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$BASE/initdb.log" 2>&1; then
        show_log "$BASE/initdb.log"
        die "initdb failed"
    fi
    # Loopback only, socket inside the data dir, durability off (throwaway data).
    pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF

# ---- pywire-auth test settings ----
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
password_encryption = 'scram-sha-256'
CONF
}

start() {
    ensure_services_dir
    ensure_installed

    if our_server_running; then
        log "already running on 127.0.0.1:$PG_PORT (data dir $DATA); reusing"
        setup_db
        print_env
        return 0
    fi
    if port_open "$PG_PORT"; then
        if app_can_connect; then
            log "a server not managed by this script already answers on 127.0.0.1:$PG_PORT as $PG_USER/$PG_DB; reusing it"
            print_env
            return 0
        fi
        die "port 127.0.0.1:$PG_PORT is already in use by something else (set PG_PORT to use another port)"
    fi

    # Not running: start from a fresh cluster (stale leftovers are discarded).
    [ -d "$BASE" ] && { log "discarding stale $BASE"; kill_matching "$DATA"; }
    init_cluster

    log "starting postgres on 127.0.0.1:$PG_PORT"
    if ! pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t "$SERVICE_TIMEOUT" start >/dev/null 2>&1; then
        show_log "$LOGFILE"
        die "postgres failed to start (see log above)"
    fi
    if ! wait_for "pg_isready" pg "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        show_log "$LOGFILE"
        die "postgres did not become ready within ${SERVICE_TIMEOUT}s"
    fi
    setup_db
    app_can_connect || die "cannot connect as $PG_USER to 127.0.0.1:$PG_PORT/$PG_DB after setup"
    log "ready: postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
    print_env
}

stop() {
    if [ ! -d "$BASE" ]; then
        log "not running (no $BASE)"
        return 0
    fi
    BINDIR="$(find_bindir)" || BINDIR=""
    if [ -n "$BINDIR" ] && pid_alive "$DATA/postmaster.pid"; then
        log "stopping postgres"
        pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t "$SERVICE_TIMEOUT" stop >/dev/null 2>&1 \
            || pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t "$SERVICE_TIMEOUT" stop >/dev/null 2>&1 \
            || log "pg_ctl stop failed; killing"
    fi
    kill_matching "$DATA"
    safe_rm_rf "$BASE"
    log "stopped; removed $BASE"
}

status() { report_status "127.0.0.1:$PG_PORT (data dir $DATA)"; }

dispatch "$@"
