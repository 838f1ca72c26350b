#!/usr/bin/env bash
# The side-by-side benchmark: every configuration of Examples/GraftBench and
# scripts/bench_torch.py, interleaved (Graft, PyTorch, Graft, PyTorch, ...) for ROUNDS rounds,
# each process started only once the machine is idle (1-minute load below 0.5, checked every
# 5 s for at most a minute), with the other processes' CPU share during the run and the peak
# memory of each process recorded. Prints one table: ms per batch (per epoch for the
# fine-tuning rows), images per second, achieved GFLOP/s (the convolutions' and linear layers'
# operations of one step, counted once by scripts/bench_torch.py, over each framework's time)
# and the Graft / PyTorch ratio per round. The loader and fine-tuning rows read 1,000 PNGs
# that bench_torch.py writes once. Needs Debian python3-torch, python3-torchvision
# (developer machine only). Where ONNX Runtime is installed (for ORT_PYTHON, default
# /usr/bin/python3; a virtual environment made with --system-site-packages and
# `pip install onnxruntime` will do), the inference rows also run in it and the table gains
# its time and the Graft / ONNX Runtime ratio.
#   [ORT_PYTHON=PYTHON] bash scripts/bench.sh [ROUNDS] [CONFIG ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
shift || true
swift build -c release --product GraftBench >/dev/null
bin=$(swift build -c release --show-bin-path)/GraftBench
out=$(mktemp)
images=$(mktemp -d)
/usr/bin/python3 scripts/bench_torch.py --write-images "$images"
wait_idle() {
  for _ in $(seq 12); do
    awk '{exit !($1 < 0.5)}' /proc/loadavg && return
    sleep 5
  done
}
frameworks="graft pytorch"
ort_python=${ORT_PYTHON:-/usr/bin/python3}
if "$ort_python" -c "import onnxruntime, torch" 2>/dev/null; then
  frameworks="$frameworks onnxruntime"
else
  echo "ONNX Runtime not found for $ort_python: no ONNX Runtime column (see the header of this script)" >&2
fi
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
for round in $(seq "$rounds"); do
  for framework in $frameworks; do
    wait_idle
    read -r b0 t0 < <(busy)
    if [ $framework = graft ]; then
      /usr/bin/time -f "peak %M" -o "$out.time" "$bin" --json --images "$images" "$@" > "$out.run"
    elif [ $framework = pytorch ]; then
      OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "peak %M" -o "$out.time" /usr/bin/python3 scripts/bench_torch.py --images "$images" "$@" > "$out.run"
    else
      OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "peak %M" -o "$out.time" "$ort_python" scripts/bench_torch.py --onnxruntime "$@" > "$out.run"
    fi
    read -r b1 t1 < <(busy)
    peak=$(awk '{print $2}' "$out.time")
    # CPU busy beyond the two cores the benchmark uses is someone else's.
    while read -r line; do echo "$round $framework $peak $b0 $t0 $b1 $t1 $line"; done < "$out.run" >> "$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, collections
rows = collections.defaultdict(dict)
peaks, load = {}, {}
for line in open(sys.argv[1]):
    r, fw, peak, b0, t0, b1, t1, rest = line.split(" ", 7)
    d = json.loads(rest)
    rows[(d["config"], int(r))][fw] = d
    peaks[(fw, int(r))] = int(peak) // 1024
    busy, total = float(b1) - float(b0), float(t1) - float(t0)
    load[(fw, int(r))] = busy / total if total else 0
print(f"{'configuration':22} {'round':>5} {'Graft ms':>9} {'PyTorch ms':>10} {'Graft img/s':>11} {'PyTorch img/s':>13} "
      f"{'Graft GFLOP/s':>13} {'PyTorch GFLOP/s':>15} {'ratio':>6} {'ORT ms':>7} {'vs ORT':>6}")
for (config, r), fws in sorted(rows.items()):
    g, p, o = fws.get("graft"), fws.get("pytorch"), fws.get("onnxruntime")
    if g and p:
        gflop = p.get("gflop")
        rates = [f"{gflop / (d['ms'] / 1000):.1f}" if gflop else "-" for d in (g, p)]
        ort = f"{o['ms']:7.1f} {o['ms'] / g['ms']:6.2f}" if o else f"{'-':>7} {'-':>6}"
        print(f"{config:22} {r:5d} {g['ms']:9.1f} {p['ms']:10.1f} {g['images_per_second']:11.1f} {p['images_per_second']:13.1f} "
              f"{rates[0]:>13} {rates[1]:>15} {g['images_per_second'] / p['images_per_second']:6.2f} {ort}")
for (fw, r), peak in sorted(peaks.items()):
    print(f"round {r} {fw}: peak RSS {peak} MB (whole process, every configuration), machine busy {load[(fw, r)] * 100:.0f}%")
PY
rm -rf "$out" "$out.run" "$out.time" "$images"
