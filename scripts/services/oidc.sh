#!/usr/bin/env bash
# Throwaway OpenID Connect provider on 127.0.0.1 for the pywire-auth test suite:
# panva's oidc-provider (from npm, pinned in oidc/package-lock.json) run by our
# own oidc/server.js (one client, a few accounts, headless login pages).
#
#   scripts/services/oidc.sh start    # npm ci into a cache dir if needed, start (idempotent)
#   scripts/services/oidc.sh env      # print the export line for the tests
#   scripts/services/oidc.sh status   # exit 0 if our server is running
#   scripts/services/oidc.sh stop     # stop it and delete its directory
#
# Env: OIDC_PORT (default 59400), PYWIRE_AUTH_SERVICES_DIR
# (default /tmp/pywire-auth-services), PYWIRE_AUTH_SERVICE_TIMEOUT (default 30),
# PYWIRE_AUTH_NODE_CACHE (where node_modules is kept between runs; default
# ~/.cache/pywire-auth/oidc-<hash of package-lock.json>).
# shellcheck disable=SC2034  # read by _lib.sh
SERVICE_NAME=oidc
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

OIDC_PORT="${OIDC_PORT:-59400}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/oidc" && pwd)"
BASE="$SERVICES_DIR/oidc"
PIDFILE="$BASE/oidc.pid"
LOGFILE="$BASE/oidc.log"

print_env() {
    echo "export PYWIRE_AUTH_TEST_OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT"
    echo "export PYWIRE_AUTH_TEST_OIDC_SERVER=$SRC/server.js"
    echo "export PYWIRE_AUTH_TEST_OIDC_NODE_PATH=$(node_cache)/node_modules"
}

node_cache() {
    local lock_hash
    lock_hash="$(sha256sum "$SRC/package-lock.json" | cut -c1-16)"
    echo "${PYWIRE_AUTH_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pywire-auth/oidc-$lock_hash}"
}

ensure_installed() {
    ensure_pkg node nodejs
    ensure_pkg npm npm
    local cache
    cache="$(node_cache)"
    if [ -f "$cache/node_modules/oidc-provider/package.json" ]; then
        return 0
    fi
    log "npm ci into $cache"
    mkdir -p "$cache"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund --ignore-scripts >&2) || die "npm ci failed"
}

health_ok() {
    [ "$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$OIDC_PORT; printf 'GET /test/health HTTP/1.0\r\n\r\n' >&3; cat <&3" 2>/dev/null | tail -n1)" = "ok" ]
}

our_server_running() { pid_alive "$PIDFILE"; }

start() {
    ensure_services_dir
    ensure_installed
    if our_server_running && health_ok; then
        log "already running on 127.0.0.1:$OIDC_PORT (pid $(cat "$PIDFILE")); reusing"
        print_env
        return 0
    fi
    port_open "$OIDC_PORT" \
        && die "port 127.0.0.1:$OIDC_PORT is already in use (set OIDC_PORT to use another port)"
    if [ -d "$BASE" ]; then
        log "discarding stale $BASE"
        kill_matching "$BASE/"
        safe_rm_rf "$BASE"
    fi
    mkdir -p "$BASE"
    log "starting oidc-provider on 127.0.0.1:$OIDC_PORT"
    # NODE_PATH does not apply to ES modules, so the server runs from a
    # symlink beside the cached node_modules. The path holds $BASE, which
    # kill_matching uses as a unique needle.
    ln -sfn "$(node_cache)/node_modules" "$BASE/node_modules"
    cp "$SRC/server.js" "$BASE/server.js"
    OIDC_PORT="$OIDC_PORT" nohup node "$BASE/server.js" </dev/null >"$LOGFILE" 2>&1 &
    echo $! >"$PIDFILE"
    if ! wait_for "oidc-provider health" health_ok; then
        show_log "$LOGFILE"
        die "oidc-provider did not answer within ${SERVICE_TIMEOUT}s"
    fi
    log "ready: http://127.0.0.1:$OIDC_PORT"
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
        log "stopping oidc-provider (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        wait_pid_exit "$pid"
    fi
    kill_matching "$BASE/"
    safe_rm_rf "$BASE"
    log "stopped; removed $BASE"
}

status() { report_status "127.0.0.1:$OIDC_PORT (pid $(cat "$PIDFILE" 2>/dev/null))"; }

dispatch "$@"
