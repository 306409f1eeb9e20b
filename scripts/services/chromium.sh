#!/usr/bin/env bash
# Make sure Debian's chromium is installed and print where it is:
#
#   eval "$(scripts/services/chromium.sh)"     # -> PYWIRE_AUTH_CHROMIUM=/usr/bin/chromium
#
# Accepts an optional (ignored) `start`/`env` argument so it can be driven like
# the other service scripts; `stop` is a no-op (nothing is left running).
# Note: as root, Chromium needs --no-sandbox (plus --headless for CI).
# shellcheck disable=SC2034  # read by _lib.sh
SERVICE_NAME=chromium
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

CHROMIUM=/usr/bin/chromium

case "${1:-env}" in
    start|env|"") ;;
    stop|status) exit 0 ;;
    *) printf 'usage: %s [start|env]\n' "$0" >&2; exit 2 ;;
esac

ensure_pkg "$CHROMIUM" chromium
# Fail now (with chromium's own message) rather than in the middle of the tests
# if it cannot even start, e.g. because of a missing shared library.
if ! version="$("$CHROMIUM" --version 2>&1)"; then
    printf '%s\n' "$version" >&2
    die "$CHROMIUM is installed but does not run"
fi
log "$version"
echo "export PYWIRE_AUTH_CHROMIUM=$CHROMIUM"
