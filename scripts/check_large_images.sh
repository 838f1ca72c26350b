#!/usr/bin/env bash
# Peak memory of a training run on Open Clip Art's food folders, whose 11 largest PNGs are
# about 10,500 x 16,000 pixels (169 MP), against the same folders with those images shrunk
# tenfold first. Needs Debian's openclipart-png and Pillow (python3-pil). Prints both peak
# RSS figures, their ratio (the target is at most 1.5) and the class counts (none skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh openclipart-png python3-pil
swift build -c release --product finetune >/dev/null
food=/usr/share/openclipart/png/food
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -rL "$food/." "$work/shrunk/"
/usr/bin/python3 - "$work/shrunk" <<'PY'
import glob, sys
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
for f in glob.glob(sys.argv[1] + "/**/*.png", recursive=True):
    im = Image.open(f)
    if im.size[0] * im.size[1] > 50e6:
        im.resize((im.size[0] // 10, im.size[1] // 10), Image.BOX).save(f)
PY
for data in "$food" "$work/shrunk"; do
  /usr/bin/time -f "%M %e" -o "$work/time" .build/release/finetune --base resnet18 --data "$data" --epochs 1 --size 64 \
    --runs "$work/runs" > "$work/log" 2>&1
  read -r kb seconds < "$work/time"
  echo "$data: peak RSS $((kb / 1024)) MB, $seconds s; $(grep '^classes' "$work/log")"
  echo "$kb" >> "$work/peaks"
done
awk 'NR==1{a=$1} NR==2{b=$1} END{printf "ratio (full-size / pre-shrunk): %.2f\n", a/b}' "$work/peaks"
