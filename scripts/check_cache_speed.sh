#!/usr/bin/env bash
# Epoch times with and without the frozen-prefix feature cache: ResNet-18 at 64 px on 1,000
# Open Clip Art images (people, recreation), --freeze 3 and --freeze all, 6 epochs, 2 views.
# Prints the first and the mean later epoch time of each run and the speed-ups (targets: at
# least 5x with --freeze 3, 20x with --freeze all for later epochs). Needs openclipart-png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh openclipart-png
swift build -c release --product finetune >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for c in people recreation; do
  mkdir -p "$work/data/$c"
  find -L /usr/share/openclipart/png/$c -name '*.png' | sort | head -500 | while read -r f; do
    ln -s "$f" "$work/data/$c/$(echo "$f" | md5sum | cut -c1-12).png"
  done
done
for freeze in 3 all; do
  for views in 2 0; do
    .build/release/finetune --base resnet --freeze $freeze --data "$work/data" --size 64 --epochs 6 --patience 100 \
      --cache-views $views --runs "$work/runs-$freeze-$views" >/dev/null
    /usr/bin/python3 - "$(ls -d "$work/runs-$freeze-$views"/*)/log.jsonl" "$freeze" "$views" <<'PY'
import json, sys
s = [json.loads(l)["seconds"] for l in open(sys.argv[1])]
print(f"--freeze {sys.argv[2]:3} cache views {sys.argv[3]}: first epoch {s[0]:6.2f} s, later epochs {sum(s[2:]) / len(s[2:]):6.2f} s")
PY
  done
done
