#!/usr/bin/env bash
# The portable Windows zip of `make package-windows`: the desktop app, the WebView2Loader.dll it
# loads at start (the build puts it beside the exe), the lanyard command and a README.txt.
#
#   scripts/windows/package-zip.sh RELEASE_DIR OUTPUT.zip
set -euo pipefail
release_dir=$1
zip_path=$2
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
folder="$stage/Lanyard-$version"
mkdir -p "$folder"
for file in lanyard-desktop.exe lanyard.exe WebView2Loader.dll; do
	[[ -f "$release_dir/$file" ]] || { echo "package-zip: missing $release_dir/$file" >&2; exit 1; }
done
# Under their build names: Windows file names ignore case, so the app cannot be "Lanyard.exe"
# beside lanyard.exe.
cp "$release_dir/lanyard-desktop.exe" "$release_dir/lanyard.exe" "$release_dir/WebView2Loader.dll" \
	"$folder/"
# Windows' Notepad reads CRLF line ends.
sed 's/$/\r/' > "$folder/README.txt" <<TEXT
Lanyard $version for Windows (x86-64), portable

Lanyard logs in to Steedos, SiteServer CMS, CoolKit / eWeLink, SiYuan and ShopXO, keeps the
sessions alive and hands out their tokens.

  lanyard-desktop.exe the desktop app. Keep WebView2Loader.dll beside it. It needs the
                      Microsoft Edge WebView2 Runtime, which Windows 10 and 11 normally have.
  lanyard.exe         the command line: "lanyard.exe --help". Put this folder on PATH to use
                      it from any terminal.
  WebView2Loader.dll  Microsoft's loader for WebView2, used by lanyard-desktop.exe.

Secrets (passwords, tokens) are kept in the Windows Credential Manager (generic credentials
named account/...lanyard).
Accounts and settings are kept in %APPDATA%\\lanyard (LANYARD_DATA_DIR changes where).
Nothing is installed: to remove Lanyard, delete this folder and that data folder.

Licence: MIT OR Apache-2.0.
TEXT
mkdir -p "$(dirname "$zip_path")"
rm -f "$zip_path"
(cd "$stage" && zip -qr -X "$(realpath -m "$zip_path")" "Lanyard-$version")
echo "package-windows: $zip_path"
