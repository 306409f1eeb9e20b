# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Source it, don't execute it.
#
# Conventions:
#   * everything human-readable goes to stderr; stdout only ever carries
#     `export NAME=value` lines, so `eval "$(scripts/services/x.sh start)"` works.
#   * state lives under ${PYWIRE_AUTH_SERVICES_DIR:-/tmp/pywire-auth-services}.

set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

SERVICES_DIR="${PYWIRE_AUTH_SERVICES_DIR:-/tmp/pywire-auth-services}"
SERVICES_DIR="${SERVICES_DIR%/}"
case "$SERVICES_DIR" in
    /*) ;;
    *) SERVICES_DIR="$PWD/$SERVICES_DIR" ;;
esac
SERVICE_NAME="${SERVICE_NAME:-$(basename "${0%.sh}")}"
# How long to wait for a server to become ready / to shut down (seconds).
SERVICE_TIMEOUT="${PYWIRE_AUTH_SERVICE_TIMEOUT:-30}"

log() { printf '[%s] %s\n' "$SERVICE_NAME" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$SERVICE_NAME" "$*" >&2; exit 1; }

usage() {
    printf 'usage: %s start|stop|env|status\n' "$0" >&2
    exit 2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root (directly, or through passwordless sudo).
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# Run a command as <user>. When we are not root, run it as ourselves.
as_user() {
    local user="$1"; shift
    if is_root; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Create the shared services dir (world-traversable: the DB servers run as
# their own system users and must be able to reach their sub-directory).
ensure_services_dir() {
    mkdir -p "$SERVICES_DIR"
    chmod 755 "$SERVICES_DIR" 2>/dev/null || true
}

_APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)

# apt-get, serialized between concurrently running service scripts. `flock -o`
# keeps the lock in the flock process only, so daemons that a package's
# postinst might spawn do not inherit (and hold) it.
_apt_get() {
    ensure_services_dir
    as_root flock -w 900 -o "$SERVICES_DIR/.apt.lock" apt-get "${_APT_OPTS[@]}" "$@"
}

_apt_update_once() {
    if [ -n "${_PYWIRE_AUTH_APT_UPDATED:-}" ]; then
        return 0
    fi
    log "apt-get update"
    _apt_get update -qq >&2 || die "apt-get update failed"
    export _PYWIRE_AUTH_APT_UPDATED=1
}

_have() {
    case "$1" in
        /*) [ -x "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] ;;
    esac
}

# install_pkgs <debian-package>... : apt-get install (apt-get update first, at
# most once per script run).
install_pkgs() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get is not available; install $* manually"
    _apt_update_once
    log "apt-get install $*"
    _apt_get install -y -qq --no-install-recommends "$@" >&2 \
        || die "apt-get install $* failed"
}

# ensure_pkg <binary-or-absolute-path> <debian-package>...
# Installs the package(s) if the binary is missing (and only then, so no
# apt-get update happens when everything is already there).
ensure_pkg() {
    local bin="$1"; shift
    [ $# -gt 0 ] || set -- "$bin"
    if _have "$bin"; then
        return 0
    fi
    log "'$bin' not found"
    install_pkgs "$@"
    _have "$bin" || die "installed $* but '$bin' is still missing"
}

# port_open <port> -> success if something accepts TCP connections on 127.0.0.1:<port>
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# proc_alive <pid> -> success if the process exists and is not a zombie (an
# exited daemon lingers as a zombie until init gets round to reaping it).
proc_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# pid_alive <pidfile> -> success if the pid in the file is a running process
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid="$(head -n1 "$1" 2>/dev/null | tr -dc '0-9')"
    [ -n "$pid" ] && proc_alive "$pid"
}

# wait_for <description> <command...> : retry until success or SERVICE_TIMEOUT.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + SERVICE_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "timed out after ${SERVICE_TIMEOUT}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# wait_pid_exit <pid> : wait (bounded) for a process to disappear; SIGKILL it if
# it does not.
wait_pid_exit() {
    local pid="$1"
    local deadline=$((SECONDS + SERVICE_TIMEOUT))
    while proc_alive "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "pid $pid still alive after ${SERVICE_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
}

# pids_matching <string> : pids whose command line contains <string> (a path
# unique to our throwaway dir, never a program name). Reads /proc directly so it
# works without procps (minimal images have no pgrep/ps).
pids_matching() {
    local needle="$1" d pid cmd
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        if [ "$pid" = "$$" ] || [ "$pid" = "${BASHPID:-$$}" ]; then continue; fi
        cmd="$(tr '\0' ' ' 2>/dev/null <"$d/cmdline")" || continue
        case "$cmd" in
            *"$needle"*) echo "$pid" ;;
        esac
    done
}

# kill_matching <string> : last-resort cleanup of processes found by pids_matching.
kill_matching() {
    local needle="$1" pids
    pids="$(pids_matching "$needle")"
    [ -n "$pids" ] || return 0
    log "killing leftover processes: $(echo "$pids" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    sleep 1
    pids="$(pids_matching "$needle")"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

# show_log <file> : dump the tail of a server log to stderr (for failures).
show_log() {
    if [ -f "$1" ]; then
        log "---- last lines of $1 ----"
        tail -n 40 "$1" >&2 || true
        log "---- end of $1 ----"
    fi
}

# Refuse to rm -rf anything that does not look like our own sub-directory.
safe_rm_rf() {
    local dir="$1"
    case "$dir" in
        ""|/|/tmp|/var|/usr|/home|/root|"${HOME:-/}") die "refusing to delete '$dir'" ;;
    esac
    [ "$(dirname "$dir")" = "$SERVICES_DIR" ] \
        || die "refusing to delete '$dir' (not directly under $SERVICES_DIR)"
    rm -rf -- "$dir"
}

# report_status <where> : the `status` command. Needs the script's
# our_server_running; exits non-zero when our server is not running.
report_status() {
    if our_server_running; then
        log "running on $1"
    else
        log "not running"
        return 1
    fi
}

# dispatch "$@" : run the script's start | stop | print_env | status.
dispatch() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        env) print_env ;;
        status) status ;;
        *) usage ;;
    esac
}
