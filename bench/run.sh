#!/usr/bin/env bash
# `make bench`: prints Lanyard's performance figures with the conditions they were taken under,
# and writes the summary table to target/bench/summary.txt. This is a measurement, not a test:
# nothing here passes or fails on a number.
#
#   1. CLI token latency: `lanyard token sscms` (valid session, keyring included) vs the
#      `secret-tool lookup` floor, under scripts/with-secret-service.sh.
#   2. Simulator: start-up (exec -> endpoint line), shutdown, SSCMS logins/s on loopback.
#   3. Desktop app: start-up (exec -> window mapped) under xvfb-run, PSS with 0 and 200 accounts,
#      idle CPU with 200 accounts.
#   4. Keep-alive at scale: lanyard-core's keepalive examples when they exist.
#
# Self-contained: installs missing tools (apt-get), builds what it needs in release (never
# cleans), and stops every process it starts.
#
# Environment knobs:
#   BENCH_ONLY="cli sim desktop keepalive"  sections to run (default: all)
#   BENCH_QUICK=1                            fewer runs and shorter idle periods (a smoke run of
#                                            the harness; its figures are marked as such)
#   BENCH_WAIT_IDLE=LOAD                     before measuring, wait (up to 15 min) until the
#                                            1-minute load average is below LOAD
#   BENCH_SKIP_BUILD=1                       use the release binaries already in target/release
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

OUT="$ROOT/target/bench"
REL="$ROOT/target/release"
BENCH_PY="$ROOT/bench/bench.py"
WITH_SECRET_SERVICE="$ROOT/scripts/with-secret-service.sh"
ROWS="$OUT/rows.tsv"
SECTIONS=" ${BENCH_ONLY:-cli sim desktop keepalive} "
QUICK=${BENCH_QUICK:-0}

# The app is built with the project's release command for it (`custom-protocol` makes it serve
# its embedded UI exactly as a bundled release does), alone, so its feature set -- and its
# artifacts -- are the same as anyone else's release build of the app. (`make run` builds a
# debug app; the Makefile has no release build to share.) The CLI and the simulator are built
# in a second invocation, without the app's features.
DESKTOP_BUILD=(cargo build --release -p lanyard-desktop --features custom-protocol)
TOOLS_BUILD=(cargo build --release -p lanyard-cli -p lanyard-sim --bins)
RELEASE_BUILD_DESC="${DESKTOP_BUILD[*]}; ${TOOLS_BUILD[*]}"

if [[ "$QUICK" == 1 ]]; then
    CLI_RUNS=20 CLI_WARMUP=3 SIM_RUNS=5 LOAD_SECS=3 LOAD_CONC=16
    APP_LAUNCHES=5 APP_IDLE=2 APP_CPU_SECS=10 APP_ACCOUNTS=200 KEEPALIVE_IDLE_SECS=10
else
    CLI_RUNS=100 CLI_WARMUP=10 SIM_RUNS=20 LOAD_SECS=10 LOAD_CONC=16
    APP_LAUNCHES=7 APP_IDLE=5 APP_CPU_SECS=60 APP_ACCOUNTS=200 KEEPALIVE_IDLE_SECS=60
fi

log() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'bench: %s\n' "$*" >&2; }
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$ROWS"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
has() { [[ "$SECTIONS" == *" $1 "* ]]; }
compilers() { pgrep -c -x 'rustc|cc1|cc1plus|ld|rust-lld|node' 2>/dev/null || true; }

# ------------------------------------------------------------------ process bookkeeping
# Every background process is started with setsid (its own process group) and recorded here;
# the EXIT trap stops each group: SIGTERM, a grace period, then SIGKILL.
GROUPS_STARTED=()

stop_group() {
    local pgid=$1 i
    kill -TERM -- "-$pgid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 -- "-$pgid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
}

# xvfb-run keeps its auth file under $TMPDIR, which the desktop section points into BENCH_TMP;
# an Xvfb whose xvfb-run could not clean up (e.g. its directory vanished) is found by that path.
stop_stray_xvfb() {
    local pid cmd
    [[ -n "${BENCH_TMP:-}" ]] || return 0
    for pid in $(pgrep -x Xvfb || true); do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
        if [[ "$cmd" == *"$BENCH_TMP/"* ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
}

cleanup() {
    local pgid
    for pgid in "${GROUPS_STARTED[@]}"; do stop_group "$pgid"; done
    stop_stray_xvfb
    rm -rf "${BENCH_TMP:-}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-bench.XXXXXX")

# Starts lanyard-sim in its own process group; sets SIM_PID and SIM_ENDPOINTS (the JSON line).
start_sim() {
    local out="$BENCH_TMP/sim-$RANDOM.out" i
    setsid "$REL/lanyard-sim" >"$out" 2>/dev/null </dev/null &
    SIM_PID=$!
    GROUPS_STARTED+=("$SIM_PID")
    SIM_ENDPOINTS=""
    for i in $(seq 1 300); do
        if [[ -s "$out" ]] && [[ "$(tail -c1 "$out" | od -An -c | tr -d ' ')" == '\n' ]]; then
            SIM_ENDPOINTS=$(head -n1 "$out")
            return 0
        fi
        kill -0 "$SIM_PID" 2>/dev/null || break
        sleep 0.05
    done
    warn "lanyard-sim did not print its endpoints"
    return 1
}

endpoint() { # endpoint NAME (from SIM_ENDPOINTS)
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$SIM_ENDPOINTS" "$1"
}

# scripts/with-secret-service.sh occasionally loses a start-up race on a busy machine (its probe
# secret never lands); that happens before CMD runs, so it is safe to try again.
with_keyring() { # with_keyring MARKER_FILE CMD...
    local marker=$1 attempt errfile="$BENCH_TMP/with-keyring.err"
    shift
    for attempt in 1 2 3; do
        if "$WITH_SECRET_SERVICE" "$@" 2>&1 | tee "$errfile"; then
            return 0
        fi
        if [[ -e "$marker" ]] || ! grep -q "did not accept a probe secret" "$errfile"; then
            return 1
        fi
        warn "the keyring did not come up (attempt $attempt); retrying"
    done
    return 1
}

# ------------------------------------------------------------------ setup

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y --no-install-recommends "$@" ||
        { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y --no-install-recommends "$@"; }
}

setup_tools() {
    local missing=() pair cmd pkg
    for pair in hyperfine:hyperfine python3:python3 curl:curl setsid:util-linux \
        dbus-run-session:dbus-daemon gnome-keyring-daemon:gnome-keyring secret-tool:libsecret-tools \
        xvfb-run:xvfb xauth:xauth xdotool:xdotool; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing missing tools: ${missing[*]}"
        apt_install "${missing[@]}" || warn "could not install ${missing[*]}"
    fi
    if command -v hyperfine >/dev/null 2>&1; then TIMER=hyperfine; else TIMER=loop; fi
    for cmd in python3 curl setsid; do
        command -v "$cmd" >/dev/null 2>&1 || { warn "$cmd is required"; exit 1; }
    done
}

build() {
    if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
        log "BENCH_SKIP_BUILD=1: using the binaries in target/release"
        return
    fi
    # Build prerequisites (WebKitGTK headers, ...) the way `make setup` installs them: only
    # what is missing.
    if grep -q '^system-packages:' Makefile 2>/dev/null; then
        make --no-print-directory system-packages
    fi
    if has desktop; then
        # The app embeds ui/dist at compile time: build the UI the way the Makefile does.
        if grep -q '^ui:' Makefile 2>/dev/null; then
            make --no-print-directory ui
        elif [[ ! -f ui/dist/index.html ]]; then
            log "building the web UI (ui/dist is missing)"
            (cd ui && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build)
        fi
    fi
    if has desktop; then
        log "release build: ${DESKTOP_BUILD[*]}"
        "${DESKTOP_BUILD[@]}"
    fi
    log "release build: ${TOOLS_BUILD[*]}"
    "${TOOLS_BUILD[@]}"
    if has sim; then
        # Its own invocation: the example's dev-dependencies (reqwest) must not change the
        # feature set of the binaries above.
        log "release build: lanyard-sim login_load example"
        cargo build --release -p lanyard-sim --example login_load
    fi
}

wait_idle() {
    local max=${BENCH_WAIT_IDLE:-} i l
    [[ -n "$max" ]] || return 0
    for i in $(seq 1 90); do
        l=$(cut -d' ' -f1 /proc/loadavg)
        if python3 -c "import sys; sys.exit(0 if float('$l') < float('$max') else 1)"; then return 0; fi
        ((i % 6 == 1)) && warn "load average $l >= $max; waiting for the machine to calm down"
        sleep 10
    done
    warn "still busy after 15 min (load $(loadavg)); measuring anyway"
}

# ------------------------------------------------------------------ 1. CLI token latency

bench_cli() {
    log "CLI token latency (keyring) vs secret-tool lookup"
    rm -f "$OUT"/cli-token.json "$OUT"/secret-tool-lookup.json "$OUT"/cli-version.json
    local load
    load=$(loadavg)
    if ! with_keyring "$OUT/cli-token.json" env LANYARD_BIN="$REL/lanyard" SSCMS="$(endpoint sscms)" \
        BENCH_OUT="$OUT" RUNS="$CLI_RUNS" WARMUP="$CLI_WARMUP" TIMER="$TIMER" BENCH_PY="$BENCH_PY" \
        bash "$ROOT/bench/cli-token.sh"; then
        row "CLI: lanyard token sscms" "not measured" "bench/cli-token.sh failed (see the log above)"
        return
    fi
    python3 "$BENCH_PY" rows cli --out "$OUT" --rows "$ROWS" --timer "$TIMER" \
        --runs "$CLI_RUNS" --warmup "$CLI_WARMUP" --load "$load"
}

# ------------------------------------------------------------------ 2. simulator

bench_sim() {
    log "simulator start-up and shutdown ($SIM_RUNS runs)"
    local load_startup load_load sscms cpu_pid
    load_startup=$(loadavg)
    python3 "$BENCH_PY" sim --sim "$REL/lanyard-sim" --runs "$SIM_RUNS" --warmup 2 \
        --json "$OUT/sim-startup.json" >/dev/null

    log "SSCMS logins/s: ${LOAD_SECS} s at concurrency $LOAD_CONC against a fresh lanyard-sim"
    # start_sim sets SIM_PID/SIM_ENDPOINTS: keep the shared simulator's for the later sections.
    local shared_pid=${SIM_PID:-} shared_endpoints=${SIM_ENDPOINTS:-}
    start_sim
    sscms=$(endpoint sscms)
    load_load=$(loadavg)
    python3 "$BENCH_PY" cputime --pid "$SIM_PID" --secs "$LOAD_SECS" >"$OUT/login-load-sim-cpu.json" &
    cpu_pid=$!
    "$REL/examples/login_load" "$sscms" "$LOAD_SECS" "$LOAD_CONC" | tee "$OUT/login-load.txt"
    wait "$cpu_pid"
    stop_group "$SIM_PID"
    SIM_PID=$shared_pid SIM_ENDPOINTS=$shared_endpoints
    python3 "$BENCH_PY" rows sim --out "$OUT" --rows "$ROWS" \
        --load-startup "$load_startup" --load-load "$load_load"
}

# ------------------------------------------------------------------ 3. desktop app

bench_desktop() {
    log "desktop app: start-up, memory, idle CPU (xvfb-run -a, private session bus + keyring)"
    rm -f "$OUT/desktop.json"
    local load
    load=$(loadavg)
    # xvfb-run picks a free display; with-secret-service.sh gives the app (and the CLI that makes
    # the accounts) a private session bus with an unlocked gnome-keyring, torn down afterwards.
    # -noreset: without it Xvfb resets whenever its last client leaves (between two launches, or
    # after an xdotool poll), and an app connecting during the reset fails to initialise GTK.
    if ! with_keyring "$OUT/desktop.json" env LANYARD_SECRET_STORE=keyring TMPDIR="$BENCH_TMP" \
        xvfb-run -a -e "$OUT/xvfb.log" -s "-screen 0 1280x1024x24 -noreset" \
        python3 "$BENCH_PY" desktop --app "$REL/lanyard-desktop" --cli "$REL/lanyard" \
        --endpoints "$SIM_ENDPOINTS" --launches "$APP_LAUNCHES" --idle "$APP_IDLE" \
        --accounts "$APP_ACCOUNTS" --cpu-secs "$APP_CPU_SECS" --logdir "$OUT" --json "$OUT/desktop.json"; then
        row "App: desktop figures" "not measured" "bench.py desktop failed (see the log above and $OUT/desktop-app.log)"
        stop_stray_xvfb
        return
    fi
    stop_stray_xvfb
    python3 "$BENCH_PY" rows desktop --out "$OUT" --rows "$ROWS" --load "$load" --idle "$APP_IDLE"
}

# ------------------------------------------------------------------ 4. keep-alive at scale

# The keep-alive engine's measurement programs are lanyard-core examples; each is run when its
# source exists. Output convention: every stdout line of the form
#   BENCH<TAB>figure<TAB>value<TAB>conditions
# becomes a summary row; `keepalive idle: ...` lines (keepalive_idle.rs) are parsed; otherwise
# the last stdout line is the value.
KEEPALIVE_EXAMPLES=(keepalive_idle keepalive_round)

keepalive_available() { [[ -f "crates/lanyard-core/examples/$1.rs" ]]; }

build_keepalive_examples() {
    [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] && return 0
    local args=() name
    for name in "${KEEPALIVE_EXAMPLES[@]}"; do
        keepalive_available "$name" && args+=(--example "$name")
    done
    ((${#args[@]})) || return 0
    log "release build: lanyard-core ${args[*]}"
    cargo build --release -p lanyard-core "${args[@]}"
}

run_keepalive_example() { # FILE-TAG FIGURE NAME ARGS...
    local tag=$1 figure=$2 name=$3 out="$OUT/$1.txt" load
    shift 3
    if ! keepalive_available "$name"; then
        row "$figure" "not available yet (engine not built)" \
            "crates/lanyard-core/examples/$name.rs does not exist"
        echo "keep-alive figures: not available yet (engine not built) -- crates/lanyard-core/examples/$name.rs does not exist"
        return
    fi
    load=$(loadavg)
    rm -f "$out"
    if ! with_keyring "$out" bash -c 'set -o pipefail; out=$1; shift; "$@" | tee "$out"' _ "$out" "$REL/examples/$name" "$@"; then
        row "$figure" "failed" "$REL/examples/$name exited with an error (see the log above)"
        return
    fi
    python3 "$BENCH_PY" rows keepalive --file "$out" --figure "$figure" --rows "$ROWS" --load "$load"
}

bench_keepalive() {
    log "keep-alive at scale"
    build_keepalive_examples
    run_keepalive_example keepalive-idle "Keep-alive: engine idle CPU, 200 accounts" \
        keepalive_idle --accounts 200 --secs "$KEEPALIVE_IDLE_SECS"
    local coolkit=()
    [[ -n "${SIM_ENDPOINTS:-}" ]] && coolkit=(--coolkit "$(endpoint coolkit)")
    run_keepalive_example keepalive-round-memory "Keep-alive: refresh round, 200 CoolKit accounts due" \
        keepalive_round --accounts 200 --store memory "${coolkit[@]}"
    run_keepalive_example keepalive-round-keyring "Keep-alive: refresh round, 200 CoolKit accounts due" \
        keepalive_round --accounts 200 --store keyring "${coolkit[@]}"
}

# ------------------------------------------------------------------ main

main() {
    mkdir -p "$OUT"
    : >"$ROWS"
    setup_tools
    local load_before_build
    load_before_build=$(loadavg)
    build
    wait_idle

    local started rev load_start comp_start
    started=$(date '+%Y-%m-%d %H:%M:%S %Z')
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD 2>/dev/null || rev="$rev (with uncommitted changes)"
    load_start=$(loadavg)
    comp_start=$(compilers)

    if has cli || has desktop || has keepalive; then
        log "starting lanyard-sim for the CLI and the account endpoints"
        start_sim
    fi
    has cli && bench_cli
    has sim && bench_sim
    has desktop && bench_desktop
    has keepalive && bench_keepalive
    [[ -n "${SIM_PID:-}" ]] && stop_group "$SIM_PID"

    local load_end comp_end cpu_model
    load_end=$(loadavg)
    comp_end=$(compilers)
    cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    {
        echo "Lanyard bench -- $started -- git $rev"
        [[ "$QUICK" == 1 ]] && echo "QUICK MODE (BENCH_QUICK=1): fewer runs, shorter idle; not for comparison"
        echo "Machine: $(nproc) cores ($cpu_model), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
        echo "Load average (1/5/15 min): $load_start at start, $load_end at end" \
            "(compiler processes running: $comp_start at start, $comp_end at end);" \
            "each row also states the load when it was taken"
        if python3 -c "import sys; sys.exit(0 if max(float('${load_start%% *}'), float('${load_end%% *}')) >= 1.5 else 1)"; then
            echo "NOTE: the machine was busy (other builds/tests on $(nproc) cores): timings are noisy and pessimistic"
        fi
        echo "Builds: release profile (workspace Cargo.toml: lto=thin, codegen-units=4, strip): $RELEASE_BUILD_DESC; the login_load example separately"
        echo
        python3 "$BENCH_PY" table "$ROWS"
    } >"$OUT/summary.txt"
    log "summary (also in target/bench/summary.txt)"
    cat "$OUT/summary.txt"
    : "$load_before_build"
}

main "$@"
