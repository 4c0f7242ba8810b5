#!/usr/bin/env bash
# Usage: scripts/with-secret-service.sh CMD [ARG]...
#
# Runs CMD inside a private D-Bus session that has gnome-keyring's Secret Service running
# and unlocked, without any GUI prompt: what keyring tests and the app need on a headless
# machine. The keyring lives in a temporary directory and vanishes afterwards; CMD's exit
# status is the script's.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARG]..." >&2
    exit 2
fi

# First pass: start a private session bus and come back inside it. The marker is dropped
# again at once, so CMD calling this script gets a session of its own, not a loop.
if [[ "${LANYARD_INSIDE_PRIVATE_BUS:-}" != 1 ]]; then
    exec dbus-run-session -- env LANYARD_INSIDE_PRIVATE_BUS=1 "$0" "$@"
fi
unset LANYARD_INSIDE_PRIVATE_BUS

keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-keyring.XXXXXX")
keyring_pid="" # learnt from the bus below: the daemon forks away from us
cleanup() {
    if [[ -n "$keyring_pid" ]]; then kill -TERM "$keyring_pid" 2>/dev/null || true; fi
    rm -rf "$keyring_home"
}
trap cleanup EXIT

# Any non-empty password creates and unlocks a fresh "login" collection; zero bytes would
# make the daemon ask a GUI prompt instead. The daemon keeps its files in its own data home
# only, so CMD's environment stays as it was.
daemon_env=$(printf %s lanyard-headless |
    XDG_DATA_HOME="$keyring_home" gnome-keyring-daemon --unlock --components=secrets --daemonize)
while IFS= read -r line; do
    [[ "$line" == *=* ]] && export "${line?}"
done <<<"$daemon_env"

# Until the daemon owns the Secret Service name, a client call would make the bus start a
# second, locked daemon through D-Bus activation; so wait for the name first.
bus_owner_of_secrets() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
        awk '/uint32/ {print $2}'
}
deadline=$((SECONDS + 10))
until keyring_pid=$(bus_owner_of_secrets) && [[ -n "$keyring_pid" ]]; do
    if ((SECONDS >= deadline)); then
        echo "$0: gnome-keyring did not take the Secret Service name within 10 s" >&2
        exit 1
    fi
    sleep 0.1
done

# The daemon answers on the bus before its collection accepts writes (a call right after
# start once failed with NoStorageAccess), so wait until a probe item round-trips.
probe_value="probe-$$-$RANDOM"
ready=""
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
    if printf %s "$probe_value" |
        timeout 3 secret-tool store --label="Lanyard keyring probe" lanyard-probe "$$" 2>/dev/null &&
        [[ "$(timeout 3 secret-tool lookup lanyard-probe "$$" 2>/dev/null)" == "$probe_value" ]]; then
        timeout 3 secret-tool clear lanyard-probe "$$" 2>/dev/null || true
        ready=yes
        break
    fi
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    echo "$0: gnome-keyring did not accept a probe secret within 20 s" >&2
    exit 1
fi

status=0
"$@" || status=$?
exit "$status"
