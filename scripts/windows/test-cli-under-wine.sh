#!/usr/bin/env bash
# The CLI's integration tests (crates/lanyard-cli/tests/it) against the Windows lanyard.exe,
# run under Wine: the test binary and lanyard-sim stay on Linux (Wine shares the loopback), each
# `lanyard` the tests start is `wine64 lanyard.exe` (LANYARD_CLI_RUNNER + LANYARD_CLI_EXE, see
# tests/it/support.rs). A fresh Wine prefix in a temp dir per run, never ~/.wine.
#
#   scripts/windows/test-cli-under-wine.sh [TEST ARGS...]   e.g. ... cli::sscms_full_lifecycle
#
# Tests that cannot apply to Windows are skipped by name: scripts/windows/skipped-under-wine.txt
# lists each with its reason, and the list is printed before the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

CARGO=${CARGO:-cargo}
WINDOWS_TARGET=x86_64-pc-windows-gnu
TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")
# Debian's wine64 package installs the loader off PATH.
WINE=${WINE:-/usr/lib/wine/wine64}
WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver}

# The Windows lanyard.exe: LANYARD_CLI_EXE when given (`make windows-test` passes the one
# `make windows-build` made), else a debug build of the same three binaries, so that the
# dependencies' features, and with them the build, are the same.
exe=${LANYARD_CLI_EXE:-}
if [[ -z "$exe" ]]; then
	"$CARGO" build --target "$WINDOWS_TARGET" -p lanyard-cli -p lanyard-sim -p lanyard-desktop --bins
	exe="$TARGET_DIR/$WINDOWS_TARGET/debug/lanyard.exe"
fi
# The test binary as `cargo test --workspace` builds it (`make test` has built it by now): built
# for lanyard-cli alone, shared crates would get other features and be compiled again.
tests=$("$CARGO" test --workspace --no-run --message-format=json-render-diagnostics |
	grep '"reason":"compiler-artifact"' | grep '"name":"it"' | grep 'lanyard-cli' |
	grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
[[ -x "$tests" ]] || { echo "test-cli-under-wine: no lanyard-cli test binary found" >&2; exit 1; }

prefix=$(mktemp -d "${TMPDIR:-/tmp}/lanyard-wine.XXXXXX")
export WINEPREFIX="$prefix" WINESERVER
# No debug chatter on stderr (the tests count stderr lines); no Mono/Gecko installers (they would
# download); no winemenubuilder (it writes menu entries and file types into ~/.local and
# ~/.config); no display: nothing here opens a window.
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
	"$WINESERVER" -k 2>/dev/null || true
	rm -rf "$prefix"
}
trap cleanup EXIT

started=$SECONDS
# One wineserver for the whole run, so each lanyard.exe does not start (and wait for) its own.
"$WINESERVER" -p
"$WINE" wineboot --init >/dev/null 2>&1
# Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std imports: the shim fills it.
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" \
	scripts/windows/bcryptprimitives-shim.c -lbcrypt
echo "wine prefix ready in $((SECONDS - started)) s: $prefix"

skips=()
echo "skipped under Wine (scripts/windows/skipped-under-wine.txt):"
while IFS=$'\t' read -r name reason; do
	[[ -z "$name" || "$name" == \#* ]] && continue
	echo "  $name: $reason"
	skips+=(--skip "$name")
done < scripts/windows/skipped-under-wine.txt

# Run from the crate's directory, as cargo test does.
cd crates/lanyard-cli
LANYARD_CLI_EXE="$exe" LANYARD_CLI_RUNNER="$WINE" "$tests" "${skips[@]}" "$@"
