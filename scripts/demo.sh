#!/usr/bin/env bash
# Usage: scripts/demo.sh            (`make demo` builds first, then runs this)
#
# The desktop app with something to show: starts lanyard-sim on free ports, fills a fresh demo
# data dir (target/demo-data) with accounts on all five simulated services, logged in through
# the `lanyard` CLI, then opens the app on that data dir. Closing the app (tray → Quit, or
# Ctrl+C here) stops the simulators.
#
# Without a session bus (a headless machine, e.g. `xvfb-run -a make demo`), everything runs in
# a private D-Bus session with an unlocked gnome-keyring (scripts/with-secret-service.sh), so
# the CLI and the app share one Secret Service.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
sim_bin=$target/debug/lanyard-sim
cli_bin=$target/debug/lanyard
app_bin=$target/debug/lanyard-desktop
data=$target/demo-data

for bin in "$sim_bin" "$cli_bin" "$app_bin"; do
    if [[ ! -x "$bin" ]]; then
        echo "demo: $bin is missing; build first (make demo does)" >&2
        exit 1
    fi
done
if [[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    echo "demo: no display; on a headless machine try: xvfb-run -a make demo" >&2
    exit 1
fi
if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
    exec "$root/scripts/with-secret-service.sh" "$0" "$@"
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-demo.XXXXXX")
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then
        kill -TERM "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- simulators ----------------------------------------------------------------------------

"$sim_bin" --demo >"$workdir/endpoints" 2>"$workdir/sim.log" &
sim_pid=$!
# The first stdout line is the JSON map of endpoints.
endpoints=""
for _ in $(seq 1 300); do
    if [[ -s "$workdir/endpoints" ]] && IFS= read -r endpoints <"$workdir/endpoints" &&
        [[ "$endpoints" == *'"shopxo"'* ]]; then
        break
    fi
    endpoints=""
    kill -0 "$sim_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$endpoints" ]]; then
    echo "demo: lanyard-sim did not print its endpoints; its log:" >&2
    cat "$workdir/sim.log" >&2
    exit 1
fi
endpoint() { # endpoint SERVICE: the URL of one simulator, from the JSON line
    local pattern="\"$1\":\"([^\"]*)\""
    [[ "$endpoints" =~ $pattern ]] && printf %s "${BASH_REMATCH[1]}"
}
steedos=$(endpoint steedos)
sscms=$(endpoint sscms)
coolkit=$(endpoint coolkit)
siyuan=$(endpoint siyuan)
shopxo=$(endpoint shopxo)
echo "demo: simulators at steedos $steedos, sscms $sscms, coolkit $coolkit, siyuan $siyuan, shopxo $shopxo"

# `--demo` (above): ShopXO asks no login captcha, so the demo logs in unattended, and SiYuan
# cloud tokens live 10 minutes: the countdown moves, and keep-alive renews the session (at
# 75-80 % of its lifetime) while you watch.

# ---- demo data -------------------------------------------------------------------------------

lanyard() { "$cli_bin" --data-dir "$data" "$@"; }

# Accounts of an earlier demo go first, with their secrets (they may be in the desktop keyring).
if [[ -d "$data" ]]; then
    while IFS= read -r name; do
        [[ -n "$name" ]] && lanyard remove "$name" >/dev/null 2>&1 || true
    done < <(lanyard list --json 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4 || true)
    rm -rf "$data"
fi

add() { # add PASSWORD ARGS...: registers the account and logs in through the line protocol
    local password=$1
    shift
    printf '%s\n' "$password" | lanyard add "$@" --remember-password --password-stdin
}
add_with_secret() { # add_with_secret SECRET PASSWORD ARGS...: the secret option (--opt KEY=@-) first
    local secret=$1 password=$2
    shift 2
    printf '%s\n' "$secret" "$password" | lanyard add "$@" --remember-password --password-stdin
}
add secret123 steedos --user alice@example.com --endpoint "$steedos" --opt space_id=demo-space
add demo1234 sscms --user demo --endpoint "$sscms"
add secret123 sscms --user alice --endpoint "$sscms"
add_with_secret LanyardDemoAppSecret000000000001 secret123 coolkit --user alice@example.com \
    --endpoint "$coolkit" --opt region=us --opt appid=LanyardDemoAppId0000000000000001 \
    --opt appsecret=@-
add_with_secret lanyarddemotoken secret123 siyuan --user alice --endpoint "$siyuan" \
    --opt api_token=@- --opt "captcha_endpoint=$siyuan"
add secret123 shopxo --user alice01 --endpoint "$shopxo"
lanyard use sscms/demo >/dev/null
echo
lanyard status || true

# ---- the app -------------------------------------------------------------------------------

echo
echo "demo: opening Lanyard on $data (the simulators stop when it quits)"
status=0
LANYARD_DATA_DIR=$data "$app_bin" || status=$?
exit "$status"
