#!/usr/bin/env bash
# Builds the DocC documentation of Transfer and Zoo (swift-docc-plugin) with warnings as
# errors, then checks that every public symbol declared in their sources has a doc comment.
# The archives land in .build/plugins/Swift-DocC/outputs/{Transfer,Zoo}.doccarchive;
# `swift package --disable-sandbox preview-documentation --target Transfer` serves one locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh python3
for target in Transfer Zoo; do
  swift package generate-documentation --target "$target" --warnings-as-errors \
    --experimental-skip-synthesized-symbols 2>&1 | { grep -v '^\[\|unhandled; explicitly declare\|PrivacyInfo.xcprivacy' || true; }
done
python3 scripts/docs/undocumented.py "$(swift build --show-bin-path)/.." Transfer Zoo
