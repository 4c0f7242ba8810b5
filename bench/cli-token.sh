#!/usr/bin/env bash
# Part of `make bench` (bench/run.sh runs it inside scripts/with-secret-service.sh, i.e. in a
# private D-Bus session with an unlocked gnome-keyring). Measures `lanyard token sscms` for a
# valid session read from the keyring, and the `secret-tool lookup` floor for the same item;
# then `lanyard api sscms /api/v1/users/1` against curl with the same header.
#
# Environment (set by run.sh): LANYARD_BIN, SSCMS (sim base URL), BENCH_OUT, RUNS, WARMUP,
# TIMER (hyperfine|loop), BENCH_PY.
set -euo pipefail

: "${LANYARD_BIN:?}" "${SSCMS:?}" "${BENCH_OUT:?}" "${RUNS:?}" "${WARMUP:?}" "${TIMER:?}" "${BENCH_PY:?}"

data_dir=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-bench-cli.XXXXXX")
trap 'rm -rf "$data_dir"' EXIT
export LANYARD_DATA_DIR="$data_dir" LANYARD_SECRET_STORE=keyring

# A real login against the simulator: the session token goes to the keyring.
printf 'demo1234\n' | "$LANYARD_BIN" add sscms --user demo --endpoint "$SSCMS" --password-stdin >/dev/null
"$LANYARD_BIN" token sscms >/dev/null # must work before it is timed

# The item `lanyard token` reads: the session of the account (service=lanyard, username=<key>).
# secret-tool prints the attributes on stderr.
key=$(secret-tool search --all service lanyard 2>&1 |
    awk -F' = ' '$1 == "attribute.username" && $2 ~ /\/session$/ {print $2; exit}')
if [[ -z "$key" ]]; then
    echo "cli-token: no lanyard session item found in the keyring" >&2
    exit 1
fi
secret-tool lookup service lanyard username "$key" >/dev/null

stats_count() { # total protocol requests the sscms simulator has served so far
    curl -fsS "$SSCMS/__sim/stats" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["requests"].values()))'
}
before=$(stats_count)

measure() { # name, command...
    local name=$1
    shift
    if [[ "$TIMER" == hyperfine ]]; then
        hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
            --export-json "$BENCH_OUT/$name.json" -- "$(printf '%q ' "$@")" >"$BENCH_OUT/$name.hyperfine.txt"
    else
        python3 "$BENCH_PY" timeloop --warmup "$WARMUP" --runs "$RUNS" --json "$BENCH_OUT/$name.json" -- "$@"
    fi
}

measure cli-token "$LANYARD_BIN" token sscms
after=$(stats_count)
measure secret-tool-lookup secret-tool lookup service lanyard username "$key"
measure cli-version "$LANYARD_BIN" --version

printf '%s\n' "$((after - before))" >"$BENCH_OUT/cli-token.server-requests"

# `lanyard api` (issue 13) against curl sending the same header to the same simulator route:
# the floor is one HTTP request from a small C program. The header goes to curl from a private
# file (`-H @file`), not its argv.
header_file="$data_dir/header"
(umask 077 && "$LANYARD_BIN" token sscms --as header >"$header_file")
"$LANYARD_BIN" api sscms /api/v1/users/1 >/dev/null # must work before it is timed
before=$(stats_count)
measure cli-api "$LANYARD_BIN" api sscms /api/v1/users/1
after=$(stats_count)
measure curl-api curl -fsS -o /dev/null -H "@$header_file" "$SSCMS/api/v1/users/1"
printf '%s\n' "$((after - before))" >"$BENCH_OUT/cli-api.server-requests"
printf '%s\n' "$((RUNS + WARMUP))" >"$BENCH_OUT/cli-api.calls"
