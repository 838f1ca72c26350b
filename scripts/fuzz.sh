#!/usr/bin/env bash
# Builds one libFuzzer target (Fuzz/Package.swift) with -sanitize=fuzzer,address and runs it
# for SECONDS on a copy of its committed seed corpus (Fuzz/Corpus/TARGET); crashes, leaks and
# timeouts are written to Fuzz/Findings/TARGET. Not part of CI.
#   bash scripts/fuzz.sh png|jpeg|hdf5|csv|idx SECONDS [extra libFuzzer flags]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?target: png, jpeg, hdf5, csv or idx}
seconds=${2:?seconds}
shift 2
name=$(echo "$target" | tr a-z A-Z)
bash scripts/install-deps.sh
swift build --package-path Fuzz -c release --product "Fuzz$name" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >/dev/null
binary=$(swift build --package-path Fuzz -c release --show-bin-path)/Fuzz$name
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "Fuzz/Corpus/$target/." "$work/"
mkdir -p "Fuzz/Findings/$target"
# Leak detection off: libhdf5 and TurboJPEG keep global caches until exit. HDF5: libhdf5 1.10
# itself loops forever on some damaged files (the Watchdog turns that into an error after
# GRAFT_READ_TIMEOUT seconds); fork mode keeps fuzzing past those and records every finding.
extra=(-max_len=65536)
if [ "$target" = hdf5 ]; then
  export GRAFT_READ_TIMEOUT=5
  extra=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1 -max_len=400000)
fi
ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" "$work" "${extra[@]}" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="Fuzz/Findings/$target/" -print_final_stats=1 "$@"
