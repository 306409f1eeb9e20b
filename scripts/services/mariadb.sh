#!/usr/bin/env bash
# Throwaway MariaDB server on 127.0.0.1 for the pywire-auth test suite.
#
#   scripts/services/mariadb.sh start    # install if needed, start (idempotent)
#   scripts/services/mariadb.sh env      # print the export line for the tests
#   scripts/services/mariadb.sh status   # exit 0 if our server is running
#   scripts/services/mariadb.sh stop     # stop and delete the data dir
#
# `start` also prints the export line on stdout, so
#   eval "$(scripts/services/mariadb.sh start)"
# works. Env: MYSQL_PORT (default 53306), PYWIRE_AUTH_SERVICES_DIR
# (default /tmp/pywire-auth-services), PYWIRE_AUTH_SERVICE_TIMEOUT (default 30).
#
# Runs its own mariadbd with --no-defaults (own datadir, socket, pid file and
# port), so it neither reads /etc/mysql/* nor touches a system MariaDB service.
# shellcheck disable=SC2034  # read by _lib.sh
SERVICE_NAME=mariadb
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

MYSQL_PORT="${MYSQL_PORT:-53306}"
DB_USER=pywire
DB_PASSWORD=pywire
DB_NAME=pywire_auth_test
OS_USER=mysql

BASE="$SERVICES_DIR/mariadb"
DATA="$BASE/data"
SOCKET="$DATA/mysqld.sock"
PIDFILE="$DATA/mysqld.pid"
LOGFILE="$BASE/mariadb.log"

# Speed over durability (throwaway data); used for install-db and the server.
INNODB_OPTS=(--innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-use-native-aio=0
             --innodb-buffer-pool-size=64M --innodb-log-file-size=16M)

print_env() {
    echo "export PYWIRE_AUTH_TEST_MYSQL_URL=mysql+aiomysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MYSQL_PORT/$DB_NAME"
}

find_bin() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        [ -x "/usr/sbin/$name" ] && { echo "/usr/sbin/$name"; return 0; }
        [ -x "/usr/bin/$name" ] && { echo "/usr/bin/$name"; return 0; }
    done
    return 1
}

ensure_installed() {
    if ! find_bin mariadbd mysqld >/dev/null || ! find_bin mariadb-install-db mysql_install_db >/dev/null \
            || ! find_bin mariadb mysql >/dev/null || ! find_bin mariadb-admin mysqladmin >/dev/null; then
        log "MariaDB server/client not found; installing"
        install_pkgs mariadb-server mariadb-client
    fi
    MARIADBD="$(find_bin mariadbd mysqld)" || die "mariadbd missing after installing mariadb-server"
    INSTALL_DB="$(find_bin mariadb-install-db mysql_install_db)" || die "mariadb-install-db missing"
    CLIENT="$(find_bin mariadb mysql)" || die "mariadb client missing"
    ADMIN="$(find_bin mariadb-admin mysqladmin)" || die "mariadb-admin missing"
    if is_root; then
        id "$OS_USER" >/dev/null 2>&1 || die "system user '$OS_USER' does not exist (normally created by mariadb-server)"
    fi
}

# Client as the superuser, over our private unix socket.
# shellcheck disable=SC2120  # extra client args are optional
sql_root() {
    "$CLIENT" --no-defaults --protocol=socket --socket="$SOCKET" -uroot "$@"
}

our_server_running() {
    pid_alive "$PIDFILE" && [ -S "$SOCKET" ]
}

ping_server() {
    "$ADMIN" --no-defaults --protocol=socket --socket="$SOCKET" -uroot --connect-timeout=2 ping
}

app_can_connect() {
    "$CLIENT" --no-defaults --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" --connect-timeout=5 \
        -u"$DB_USER" -p"$DB_PASSWORD" "$DB_NAME" -e 'SELECT 1' >/dev/null 2>&1
}

setup_db() {
    log "ensuring database '$DB_NAME' and user '$DB_USER'"
    # The extra `pywire\_auth\_test\_%` grant lets tests create per-worker
    # databases such as pywire_auth_test_gw0 (pytest-xdist).
    sql_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'%', '$DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`pywire\\_auth\\_test\\_%\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'%', '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
}

init_datadir() {
    log "mariadb-install-db in $DATA"
    safe_rm_rf "$BASE"
    mkdir -p "$DATA" "$BASE/tmp"
    is_root && chown -R "$OS_USER:" "$BASE"
    chmod 750 "$BASE" "$DATA"
    as_user "$OS_USER" test -w "$DATA" \
        || die "user '$OS_USER' cannot write $DATA; pick a PYWIRE_AUTH_SERVICES_DIR whose parents are world-traversable"
    local user_opt=()
    is_root && user_opt=(--user="$OS_USER")
    if ! "$INSTALL_DB" --no-defaults "${user_opt[@]}" --datadir="$DATA" --basedir=/usr \
            --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
            "${INNODB_OPTS[@]}" \
            >"$BASE/install-db.log" 2>&1; then
        show_log "$BASE/install-db.log"
        die "mariadb-install-db failed"
    fi
}

launch() {
    local user_opt=()
    is_root && user_opt=(--user="$OS_USER")
    log "starting mariadbd on 127.0.0.1:$MYSQL_PORT"
    # setsid + redirected stdio: fully detached, does not hold the caller's
    # pipes open (important for `$(...)`/CI log capture).
    setsid "$MARIADBD" --no-defaults "${user_opt[@]}" \
        --datadir="$DATA" --socket="$SOCKET" --pid-file="$PIDFILE" \
        --log-error="$LOGFILE" --tmpdir="$BASE/tmp" \
        --port="$MYSQL_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --max-connections=300 "${INNODB_OPTS[@]}" \
        --skip-log-bin --sync-binlog=0 \
        </dev/null >>"$BASE/mariadbd.stdout" 2>&1 &
    local pid=$!
    local deadline=$((SECONDS + SERVICE_TIMEOUT))
    until ping_server >/dev/null 2>&1; do
        if ! proc_alive "$pid"; then
            show_log "$LOGFILE"; show_log "$BASE/mariadbd.stdout"
            die "mariadbd exited during startup (see log above)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log "$LOGFILE"
            kill -TERM "$pid" 2>/dev/null || true
            die "mariadbd did not answer ping within ${SERVICE_TIMEOUT}s"
        fi
        sleep 0.2
    done
}

start() {
    ensure_services_dir
    ensure_installed

    if our_server_running && ping_server >/dev/null 2>&1; then
        log "already running on 127.0.0.1:$MYSQL_PORT (datadir $DATA); reusing"
        setup_db
        print_env
        return 0
    fi
    if port_open "$MYSQL_PORT"; then
        if app_can_connect; then
            log "a server not managed by this script already answers on 127.0.0.1:$MYSQL_PORT as $DB_USER/$DB_NAME; reusing it"
            print_env
            return 0
        fi
        die "port 127.0.0.1:$MYSQL_PORT is already in use by something else (set MYSQL_PORT to use another port)"
    fi

    if [ -d "$BASE" ]; then
        log "discarding stale $BASE"
        kill_matching "$DATA"
    fi
    init_datadir
    launch
    setup_db
    app_can_connect || die "cannot connect as $DB_USER to 127.0.0.1:$MYSQL_PORT/$DB_NAME after setup"
    log "ready: mysql://$DB_USER@127.0.0.1:$MYSQL_PORT/$DB_NAME"
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
        log "stopping mariadbd (pid $pid)"
        if [ -n "${ADMIN:-}" ] || ADMIN="$(find_bin mariadb-admin mysqladmin)"; then
            "$ADMIN" --no-defaults --protocol=socket --socket="$SOCKET" -uroot \
                --connect-timeout=5 shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
        wait_pid_exit "$pid"
    fi
    kill_matching "$DATA"
    safe_rm_rf "$BASE"
    log "stopped; removed $BASE"
}

status() { report_status "127.0.0.1:$MYSQL_PORT (datadir $DATA, pid $(cat "$PIDFILE" 2>/dev/null))"; }

dispatch "$@"
