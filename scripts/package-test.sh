#!/usr/bin/env bash
# Usage: scripts/package-test.sh PACKAGE.deb
#
# Checks the Debian package as a user gets it: lintian finds no error; it installs with apt
# (root, or sudo); the installed `lanyard --version` and `man lanyard` work; the desktop
# entry's own Exec line starts the app under Xvfb and its window, titled "Lanyard", carries
# the entry's StartupWMClass; a second launch only focuses the first (single instance); launch
# at login writes an autostart entry for the installed binary; and removing the package leaves nothing behind but the user's data. Screenshot:
# target/e2e-artifacts/package-desktop-entry.png.
set -euo pipefail

deb=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$root/target/e2e-artifacts"
mkdir -p "$artifacts"
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo
package=lanyard
desktop_entry=/usr/share/applications/dev.lanyard.Lanyard.desktop
metainfo=/usr/share/metainfo/dev.lanyard.Lanyard.metainfo.xml

fail() { echo "package test: FAILED: $*" >&2; exit 1; }
step() { echo "package test: $*"; }

step "lintian $(basename "$deb")"
lintian --fail-on error --tag-display-limit 0 "$deb"

if dpkg -s "$package" >/dev/null 2>&1; then
    fail "$package is installed already; remove it first (apt-get purge $package) so the test can check a clean install and removal"
fi
home=$(mktemp -d)
cleanup() {
    if dpkg -s "$package" >/dev/null 2>&1; then $SUDO dpkg --purge "$package" >/dev/null || true; fi
    rm -rf "$home"
}
trap cleanup EXIT

step "install with apt"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >/dev/null
installed_files=$(dpkg -L "$package")

step "the installed CLI and its man page"
[[ $(command -v lanyard) == /usr/bin/lanyard ]] || fail "lanyard is not /usr/bin/lanyard on PATH"
version=$(lanyard --version)
[[ $version == "lanyard $(dpkg-query -W -f='${Version}' "$package" | sed 's/-[^-]*$//')" ]] ||
    fail "lanyard --version says '$version'"
man_text=$(MANPAGER=cat MANWIDTH=100 man lanyard 2>&1) || fail "man lanyard: $man_text"
grep -q "lanyard - " <<<"$man_text" || fail "man lanyard has no NAME line: $man_text"
MANPAGER=cat man lanyard-token 2>/dev/null | grep -q -- "--as" || fail "man lanyard-token lacks --as"
MANPAGER=cat man lanyard-desktop 2>/dev/null | grep -q "LANYARD_DATA_DIR" || fail "man lanyard-desktop is missing"
for f in /usr/share/bash-completion/completions/lanyard /usr/share/zsh/vendor-completions/_lanyard \
    /usr/share/fish/vendor_completions.d/lanyard.fish; do
    grep -q "lanyard" "$f" || fail "no completion in $f"
done
bash -c 'source /usr/share/bash-completion/completions/lanyard && complete -p lanyard' >/dev/null ||
    fail "the bash completion does not register"

step "desktop entry and AppStream metadata"
desktop-file-validate "$desktop_entry"
if command -v appstreamcli >/dev/null; then appstreamcli validate --no-net "$metainfo"; fi
for size in 16 24 32 48 64 128 256 512; do
    icon=/usr/share/icons/hicolor/${size}x${size}/apps/dev.lanyard.Lanyard.png
    [[ $(identify -format '%wx%h' "$icon") == "${size}x${size}" ]] || fail "$icon is not ${size}x${size}"
done
# The Exec line without its field codes (%u, %F…), as a launcher would run it.
exec_line=$(sed -n 's/^Exec=//p' "$desktop_entry" | sed 's/ %[a-zA-Z]//g')
wm_class=$(sed -n 's/^StartupWMClass=//p' "$desktop_entry")

step "start the app from the desktop entry: $exec_line"
cat >"$home/launch.sh" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
export HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_CONFIG_HOME="$home/.config"
unset LANYARD_DATA_DIR LANYARD_SECRET_STORE
cd "\$HOME"
$exec_line >"$home/app.log" 2>&1 &
app=\$!
window=""
for _ in \$(seq 150); do
    window=\$(xdotool search --name '^Lanyard\$' 2>/dev/null | head -n 1) && [[ -n \$window ]] && break
    sleep 0.2
done
[[ -n \$window ]] || { echo "no window titled Lanyard within 30 s" >&2; cat "$home/app.log" >&2; exit 1; }
# The window maps before WebKit draws the page: wait until it shows more than a background.
colours=0
for _ in \$(seq 60); do
    import -window root "$artifacts/package-desktop-entry.png"
    colours=\$(identify -format '%k' "$artifacts/package-desktop-entry.png")
    ((colours > 200)) && break
    sleep 0.5
done
((colours > 200)) || { echo "the window stayed blank (\$colours colours)" >&2; cat "$home/app.log" >&2; exit 1; }
class=\$(xprop -id "\$window" WM_CLASS)
[[ \$class == *"\"$wm_class\""* ]] || { echo "WM_CLASS is \$class, the entry says $wm_class" >&2; exit 1; }
# Single instance: a second launch hands over to the first and exits.
timeout 20 $exec_line >>"$home/app.log" 2>&1 || { echo "the second launch did not exit" >&2; exit 1; }
kill -0 "\$app" || { echo "the first instance died" >&2; exit 1; }
[[ \$(xdotool search --name '^Lanyard\$' | wc -l) == 1 ]] || { echo "a second window opened" >&2; exit 1; }
[[ -d "$home/.local/share/lanyard" ]] || { echo "no data dir in the user's home" >&2; exit 1; }
kill -TERM "\$app"
wait "\$app" || true

# Launch at login from the installed path: with the setting on, the next start writes an
# autostart entry that runs the installed binary.
python3 - "$home/.local/share/lanyard/lanyard.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('desktop.launch_at_login', 'true')")
db.commit()
PY
$exec_line >>"$home/app.log" 2>&1 &
app=\$!
entry=""
for _ in \$(seq 100); do
    entry=\$(ls "$home/.config/autostart/"*.desktop 2>/dev/null | head -n 1) && [[ -n \$entry ]] && break
    sleep 0.2
done
[[ -n \$entry ]] || { echo "no autostart entry with launch at login on" >&2; exit 1; }
grep -q '^Exec=.*/usr/bin/lanyard-desktop' "\$entry" || { echo "the autostart entry does not run /usr/bin/lanyard-desktop:" >&2; cat "\$entry" >&2; exit 1; }
kill -TERM "\$app"
wait "\$app" || true
SCRIPT
chmod +x "$home/launch.sh"
xvfb-run -a -s "-screen 0 1280x800x24" "$root/scripts/with-secret-service.sh" "$home/launch.sh" ||
    fail "the app did not start from its desktop entry"

step "remove the package"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y "$package" >/dev/null
left=""
while IFS= read -r path; do
    # Directories the package shares with the system (/usr, /usr/share/man…) stay.
    [[ -e $path && ! -d $path ]] && left="$left $path"
done <<<"$installed_files"
[[ -z $left ]] || fail "files left after removal:$left"
[[ -d "$home/.local/share/lanyard" ]] || fail "removal deleted the user's data"
step "passed (screenshot: $artifacts/package-desktop-entry.png)"
