#!/usr/bin/env bash
# Renders a run folder's report.html in headless Chromium (Debian `chromium`) to a PNG and
# checks it is not blank: the page loads with its pictures (charts beside it, thumbnails
# inline). Not part of CI; without Chromium it says so and exits 0 without checking.
#   bash scripts/check_report.sh [RUN_FOLDER]   (default: a fresh 2-epoch demo run)
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "skipped: no Chromium (apt-get install chromium) - report.html was not rendered"
  exit 0
fi
run=${1:-}
if [ -z "$run" ]; then
  swift build -c release --product finetune >/dev/null
  runs=$(mktemp -d)
  .build/release/finetune --base resnet --freeze 3 --epochs 2 --runs "$runs" --quiet >/dev/null
  run=$(ls -d "$runs"/*)
fi
out=${REPORT_PNG:-/tmp/graft-report.png}
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3000 \
  --screenshot="$out" "file://$(realpath "$run")/report.html" >/dev/null 2>&1
/usr/bin/python3 - "$out" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
colours = len(set(im.resize((300, 750)).getdata()))
dark = sum(1 for p in im.getdata() if sum(p) < 200)
print(f"{sys.argv[1]}: {im.size[0]}x{im.size[1]}, {colours} colours, {dark} dark pixels")
sys.exit(0 if colours > 50 and dark > 1000 else 1)
PY
echo "ok: report.html rendered with its pictures ($out)"
