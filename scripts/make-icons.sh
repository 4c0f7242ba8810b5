#!/usr/bin/env bash
# Rasterizes icons/lanyard.svg into every icon file Tauri and Linux desktop entries use.
# Needs rsvg-convert (librsvg2-bin), ImageMagick's convert and python3. The results are
# committed, so only a changed SVG needs this; `generate_context!` insists on RGBA PNGs.
set -euo pipefail

cd "$(dirname "$0")/../icons"
src=lanyard.svg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

render() { # size output
    rsvg-convert --width "$1" --height "$1" "$src" --output "$work/raw.png"
    # PNG32: force 8-bit RGBA even where every pixel happens to be opaque.
    convert "$work/raw.png" -strip "PNG32:$2"
}

# The Linux package installs one PNG per hicolor size: these three, the ones below, and
# 128x128@2x.png and icon.png as 256 and 512.
render 16 16x16.png
render 24 24x24.png
render 48 48x48.png
render 32 32x32.png
render 64 64x64.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png

for size in 16 24 48 256; do render "$size" "$work/ico-$size.png"; done
convert "$work/ico-16.png" "$work/ico-24.png" 32x32.png "$work/ico-48.png" 64x64.png \
    "$work/ico-256.png" icon.ico

# ICNS: a header and one PNG per slot (ic07 128, ic08 256, ic09 512, ic10 512@2x).
render 1024 "$work/icns-1024.png"
python3 - "$work/icns-1024.png" <<'PY'
import struct, sys
slots = [("ic07", "128x128.png"), ("ic08", "128x128@2x.png"), ("ic09", "icon.png"), ("ic10", sys.argv[1])]
chunks = b"".join(kind.encode() + struct.pack(">I", 8 + len(data)) + data
                  for kind, data in ((k, open(p, "rb").read()) for k, p in slots))
with open("icon.icns", "wb") as out:
    out.write(b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks)
PY
echo "icons written to $(pwd)"
