#!/usr/bin/env bash
# Installs what is missing, then runs Graft's main job. Until `finetune` lands this is the
# most complete example: a small network trained from scratch on the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift run -c release TrainMLP "$@"
