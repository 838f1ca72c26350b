#!/usr/bin/env bash
# Scripted check (needs root for mount): a full disk during a save ends with exit 1 and one
# message naming the file, leaves no temporary behind and keeps an older file intact, for
# `train` (the run's model.h5), `import` and `zoo init`. Not part of CI (it mounts a tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product finetune >/dev/null
bin=.build/release/finetune
small=$(mktemp -d)
trap 'umount "$small" 2>/dev/null || true; rmdir "$small"' EXIT
mount -t tmpfs -o size=400k tmpfs "$small"
fail=0
check() {  # name, expected file, command...
  local name=$1 file=$2; shift 2
  set +e
  "$@" >"$small.out" 2>&1
  local rc=$?
  set -e
  local litter
  litter=$(find "$small" -name '.*.tmp-*' | wc -l)
  if [ "$rc" -eq 1 ] && grep -q "disk is full" "$small.out" && [ "$litter" -eq 0 ]; then
    echo "ok   $name: exit $rc, $(grep -m1 'disk is full' "$small.out")"
  else
    echo "FAIL $name: exit $rc, $litter temporaries left"; cat "$small.out"; fail=1
  fi
  if [ -n "$file" ]; then
    cmp -s "$file" "$small.bak" && echo "ok   $name: the older file is unchanged" || { echo "FAIL $name: older file changed"; fail=1; }
  fi
}
$bin zoo init lenet5 --out "$small/keep.h5" >/dev/null
cp "$small/keep.h5" "$small.bak"
check "zoo init" "$small/keep.h5" $bin zoo init resnet18 --out "$small/keep.h5"
$bin zoo init vgg11 --classes 10 --out /tmp/graft-vgg11.h5 >/dev/null
check "import" "$small/keep.h5" $bin import --from graft /tmp/graft-vgg11.h5 --arch vgg11 --out "$small/keep.h5"
rm -f /tmp/graft-vgg11.h5
mkdir -p "$small/runs"
check "train" "" $bin --base resnet --freeze 3 --epochs 1 --runs "$small/runs"
rm -f "$small.out" "$small.bak"
exit $fail
