#!/usr/bin/env bash
# Usage: scripts/package-assets.sh PROFILE_DIR OUT_DIR
#
# Generates what the Debian package ships beside the binaries, from the CLI's own clap
# definition: man pages (OUT_DIR/man/*.1.gz, with the app's page from packaging/linux/) and
# shell completions (OUT_DIR/completions/). PROFILE_DIR is a cargo profile's output dir holding
# the built `lanyard` binary and the `manpages` example (crates/lanyard-cli/examples/manpages.rs); both
# are run as built, since a `cargo run` of the example alone would resolve features for the CLI
# alone and recompile the crates it shares with the app.
set -euo pipefail

lanyard=$1/lanyard
manpages=$1/examples/manpages
out=$2
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"

"$manpages" "$out/man"
# The app's own page is written by hand: it has no command line to generate one from.
cp "$(dirname "$0")/../packaging/linux/lanyard-desktop.1" "$out/man/"
# -n: no timestamp in the gzip header, so the same sources give the same package.
gzip -9n "$out"/man/*.1

"$lanyard" completions bash >"$out/completions/lanyard.bash"
"$lanyard" completions zsh >"$out/completions/_lanyard"
"$lanyard" completions fish >"$out/completions/lanyard.fish"
