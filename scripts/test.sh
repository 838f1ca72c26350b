#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
# The convolution repeatability test once more on oneDNN's AVX2 kernels (what the 2-core CI
# machines run), so a machine with AVX-512 also covers them.
ONEDNN_MAX_CPU_ISA=AVX2 swift test --skip-build --filter ConvolutionRepeatabilityTests
# Graft as a dependency by version (debug and release builds of the README's library example).
bash scripts/check_dependency.sh
# The DocC documentation of Transfer and Zoo builds without warnings, every public symbol documented.
bash scripts/check_docs.sh
