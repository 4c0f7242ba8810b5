#!/usr/bin/env bash
# Usage: scripts/with-secret-service.sh [--state unlocked|locked|no-login-keyring] CMD [ARG]...
#
# Runs CMD inside a private D-Bus session (and a private kernel session keyring) that has gnome-keyring's Secret Service running,
# without any GUI prompt: what keyring tests and the app need on a headless machine. The
# keyring lives in a temporary directory (never the user's ~/.local/share/keyrings) and vanishes
# afterwards; CMD's exit status is the script's.
#
# --state picks what the keyring looks like when CMD starts:
#   unlocked          (the default) a login keyring, unlocked: secrets can be stored at once;
#   locked            a login keyring with a password, the daemon restarted without unlocking it;
#   no-login-keyring  a daemon that never had a login keyring (a fresh home).
# For the last two, CMD must run without DISPLAY/WAYLAND_DISPLAY, or gnome-keyring asks a
# person through a GUI prompt. CMD also gets LANYARD_TEST_KEYRINGS_DIR, the daemon's keyring
# directory, so a test can check the state it asserts on.
set -euo pipefail

state=unlocked
if [[ "${1:-}" == --state ]]; then
    state="${2:-}"
    shift 2 || true
fi
case "$state" in
unlocked | locked | no-login-keyring) ;;
*)
    echo "$0: --state takes unlocked, locked or no-login-keyring, not '$state'" >&2
    exit 2
    ;;
esac
if [[ $# -eq 0 ]]; then
    echo "usage: $0 [--state unlocked|locked|no-login-keyring] CMD [ARG]..." >&2
    exit 2
fi

# First pass: start a private session bus and come back inside it. The marker is dropped
# again at once, so CMD calling this script gets a session of its own, not a loop.
# It also joins a new kernel session keyring (where Lanyard caches session tokens), so nothing
# lands in the caller's own; without keyctl, or where the kernel refuses, the bus alone.
if [[ "${LANYARD_INSIDE_PRIVATE_BUS:-}" != 1 ]]; then
    inside=(dbus-run-session -- env LANYARD_INSIDE_PRIVATE_BUS=1 "$0" --state "$state" "$@")
    if command -v keyctl >/dev/null && keyctl session - true >/dev/null 2>&1; then
        # keyctl announces the new keyring on stderr: silenced, CMD gets the real stderr back.
        exec 3>&2
        exec keyctl session - sh -c 'exec 2>&3 3>&-; exec "$@"' sh "${inside[@]}" 2>/dev/null
    fi
    exec "${inside[@]}"
fi
unset LANYARD_INSIDE_PRIVATE_BUS

keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-keyring.XXXXXX")
# The daemon's control socket goes here too: in the user's own XDG_RUNTIME_DIR it could meet
# (or replace) the user's real keyring daemon.
mkdir -m 700 "$keyring_home/data" "$keyring_home/runtime"
keyring_pid="" # learnt from the bus below: the daemon forks away from us
cleanup() {
    if [[ -n "$keyring_pid" ]]; then kill -TERM "$keyring_pid" 2>/dev/null || true; fi
    rm -rf "$keyring_home"
}
trap cleanup EXIT

# Starts the daemon in the private data and runtime dirs, exporting what it prints
# (GNOME_KEYRING_CONTROL...). With a password it creates or unlocks the login keyring; any
# non-empty password works (zero bytes on stdin would make it ask a GUI prompt instead).
start_daemon() {
    local password=$1 daemon_env line
    local -a run=(env XDG_DATA_HOME="$keyring_home/data" XDG_RUNTIME_DIR="$keyring_home/runtime"
        gnome-keyring-daemon --components=secrets --daemonize)
    if [[ -n "$password" ]]; then
        daemon_env=$(printf %s "$password" | "${run[@]}" --unlock)
    else
        daemon_env=$("${run[@]}" </dev/null)
    fi
    while IFS= read -r line; do
        if [[ "$line" == *=* ]]; then export "${line?}"; fi
    done <<<"$daemon_env"
}

bus_owner_of_secrets() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
        awk '/uint32/ {print $2}'
}

# Until the daemon owns the Secret Service name, a client call would make the bus start a
# second, locked daemon through D-Bus activation; so wait for the name first.
wait_for_daemon() {
    local deadline=$((SECONDS + 10))
    until keyring_pid=$(bus_owner_of_secrets) && [[ -n "$keyring_pid" ]]; do
        if ((SECONDS >= deadline)); then
            echo "$0: gnome-keyring did not take the Secret Service name within 10 s" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# The daemon answers on the bus before its collection accepts writes (a call right after
# start once failed with NoStorageAccess), so wait until a probe item round-trips. The item
# also makes the daemon write the login keyring to disk.
wait_for_unlocked_keyring() {
    local probe_value="probe-$$-$RANDOM" deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)); do
        if printf %s "$probe_value" |
            timeout 3 secret-tool store --label="Lanyard keyring probe" lanyard-probe "$$" 2>/dev/null &&
            [[ "$(timeout 3 secret-tool lookup lanyard-probe "$$" 2>/dev/null)" == "$probe_value" ]]; then
            timeout 3 secret-tool clear lanyard-probe "$$" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    echo "$0: gnome-keyring did not accept a probe secret within 20 s" >&2
    exit 1
}

# Services the bus starts on demand (gnome-keyring's GUI prompter, a second keyring daemon)
# get private dirs too, never the user's; in the test states, a display that does not exist,
# so the prompter fails at once (dbus-send cannot pass an empty value).
activation_env="XDG_DATA_HOME,$keyring_home/data,XDG_RUNTIME_DIR,$keyring_home/runtime"
activation_env+=",XDG_CACHE_HOME,$keyring_home/cache,XDG_CONFIG_HOME,$keyring_home/config"
if [[ "$state" != unlocked ]]; then
    activation_env+=",DISPLAY,:lanyard-no-display,WAYLAND_DISPLAY,lanyard-no-display"
fi
dbus-send --session --type=method_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.UpdateActivationEnvironment "dict:string:string:$activation_env"

case "$state" in
unlocked | locked)
    start_daemon lanyard-headless
    wait_for_daemon
    wait_for_unlocked_keyring
    ;;
no-login-keyring)
    start_daemon ""
    wait_for_daemon
    ;;
esac

if [[ "$state" == locked ]]; then
    # Stop the daemon that holds the keyring unlocked and start one that only finds the file.
    kill -TERM "$keyring_pid"
    deadline=$((SECONDS + 10))
    while kill -0 "$keyring_pid" 2>/dev/null || [[ -n "$(bus_owner_of_secrets)" ]]; do
        if ((SECONDS >= deadline)); then
            echo "$0: the first gnome-keyring did not stop within 10 s" >&2
            exit 1
        fi
        sleep 0.1
    done
    keyring_pid=""
    if [[ ! -s "$keyring_home/data/keyrings/login.keyring" ]]; then
        echo "$0: gnome-keyring wrote no login keyring to $keyring_home/data/keyrings" >&2
        exit 1
    fi
    start_daemon ""
    wait_for_daemon
fi

status=0
LANYARD_TEST_KEYRINGS_DIR="$keyring_home/data/keyrings" "$@" || status=$?
exit "$status"
