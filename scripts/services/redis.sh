#!/usr/bin/env bash
# Throwaway Redis server on 127.0.0.1 for the pywire-auth test suite.
#
#   scripts/services/redis.sh start    # install if needed, start (idempotent)
#   scripts/services/redis.sh env      # print the export line for the tests
#   scripts/services/redis.sh status   # exit 0 if our server is running
#   scripts/services/redis.sh stop     # stop and delete its directory
#
# `start` also prints the export line on stdout, so
#   eval "$(scripts/services/redis.sh start)"
# works. Env: REDIS_PORT (default 56379), PYWIRE_AUTH_SERVICES_DIR
# (default /tmp/pywire-auth-services), PYWIRE_AUTH_SERVICE_TIMEOUT (default 30).
#
# No config file is read (so /etc/redis/redis.conf and the system service are
# left alone); persistence is off.
# shellcheck disable=SC2034  # read by _lib.sh
SERVICE_NAME=redis
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

REDIS_PORT="${REDIS_PORT:-56379}"
OS_USER=redis

BASE="$SERVICES_DIR/redis"
PIDFILE="$BASE/redis.pid"
LOGFILE="$BASE/redis.log"

print_env() {
    echo "export PYWIRE_AUTH_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

ensure_installed() {
    ensure_pkg redis-server redis-server
    ensure_pkg redis-cli redis-tools
    REDIS_SERVER="$(command -v redis-server || echo /usr/bin/redis-server)"
    REDIS_CLI="$(command -v redis-cli || echo /usr/bin/redis-cli)"
}

# Drop root when the package's system user exists; otherwise run as ourselves.
run_server_as() {
    if is_root && id "$OS_USER" >/dev/null 2>&1; then
        runuser -u "$OS_USER" -- "$@"
    else
        "$@"
    fi
}


ping_ok() { [ "$(timeout 5 "$REDIS_CLI" -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

our_server_running() { pid_alive "$PIDFILE"; }

# redis-server rewrites its process title to "<path> 127.0.0.1:<port>", so match
# on that (it does not contain our directory).
kill_leftovers() { kill_matching "redis-server 127.0.0.1:$REDIS_PORT"; }

start() {
    ensure_services_dir
    ensure_installed

    if our_server_running && ping_ok; then
        log "already running on 127.0.0.1:$REDIS_PORT (pid $(cat "$PIDFILE")); reusing"
        print_env
        return 0
    fi
    if port_open "$REDIS_PORT"; then
        if ping_ok; then
            log "a redis not managed by this script already answers on 127.0.0.1:$REDIS_PORT; reusing it"
            print_env
            return 0
        fi
        die "port 127.0.0.1:$REDIS_PORT is already in use by something else (set REDIS_PORT to use another port)"
    fi

    if [ -d "$BASE" ]; then
        log "discarding stale $BASE"
        kill_leftovers
        safe_rm_rf "$BASE"
    fi
    mkdir -p "$BASE"
    if is_root && id "$OS_USER" >/dev/null 2>&1; then
        chown "$OS_USER:" "$BASE"
    fi
    chmod 750 "$BASE"

    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    # --daemonize forks and detaches; stdio redirected so the caller's pipes
    # are not held open.
    if ! run_server_as "$REDIS_SERVER" \
            --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
            --save '' --appendonly no \
            --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" --dir "$BASE/" \
            </dev/null >/dev/null 2>&1; then
        show_log "$LOGFILE"
        die "redis-server failed to start"
    fi
    if ! wait_for "redis PING" ping_ok; then
        show_log "$LOGFILE"
        die "redis did not answer PING within ${SERVICE_TIMEOUT}s"
    fi
    # pidfile is written right after daemonizing; give it a moment.
    wait_for "redis pidfile" our_server_running || die "redis pidfile $PIDFILE missing"
    log "ready: redis://127.0.0.1:$REDIS_PORT/0"
    print_env
}

stop() {
    if [ ! -d "$BASE" ]; then
        log "not running (no $BASE)"
        return 0
    fi
    local pid=""
    [ -s "$PIDFILE" ] && pid="$(tr -dc '0-9' <"$PIDFILE")"
    if [ -n "$pid" ] && proc_alive "$pid"; then
        log "stopping redis-server (pid $pid)"
        # SHUTDOWN NOSAVE over the socket; fall back to SIGTERM.
        if command -v redis-cli >/dev/null 2>&1; then
            timeout 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        fi
        if proc_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
        wait_pid_exit "$pid"
    fi
    kill_leftovers
    safe_rm_rf "$BASE"
    log "stopped; removed $BASE"
}

status() { report_status "127.0.0.1:$REDIS_PORT (pid $(cat "$PIDFILE" 2>/dev/null))"; }

dispatch "$@"
