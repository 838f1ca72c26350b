#!/usr/bin/env bash
# Installs what is missing, then runs Graft's main job: `finetune --base resnet --freeze 3`
# on the embedded demo dataset (extra arguments are passed on, e.g. --data DIR --epochs 20).
# It starts from the zoo's pretrained ResNet-18 (zoo/resnet18-clipart.h5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift run -c release finetune --base resnet --freeze 3 "$@"
