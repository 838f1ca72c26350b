#!/usr/bin/env bash
# Full-size parity check of Graft's zoo against Keras and PyTorch (a developer-machine check,
# not part of `swift test`: it needs TensorFlow/Keras, PyTorch and a few minutes of CPU).
#
#   scripts/check_fullsize.sh
#   FINETUNE=.build/debug/finetune KEEP=1 scripts/check_fullsize.sh
#
# Environment:
#   FINETUNE   the finetune binary (default .build/release/finetune, else .build/debug/finetune)
#   KERAS_PY   Python with tensorflow, tf-keras, keras 3, h5py (default /opt/graft-keras-venv/bin/python)
#   TORCH_PY   Python with torch, torchvision, h5py (default /usr/bin/python3)
#   SEED       seed of the input and of every random model (default 0)
#   KEEP=1     keep the temporary folder (weights, logits) and print where it is
#
# In a temporary folder, with a fixed random input (batch 2, 224x224x3, NHWC, ~N(0, 1)) in
# input.h5, it checks:
#   1. Keras -> Graft: keras.applications VGG16 and ResNet50 (weights=None,
#      classifier_activation=None; seeded init, biases and BatchNorm randomised), saved with
#      tf-keras save_weights (Keras 2 .h5) and Keras 3 save_weights (.weights.h5); each file
#      run through `finetune zoo logits --arch vgg16 / resnet50_keras` vs Keras 3's logits.
#   2. Graft -> Keras: `finetune zoo init vgg16 / resnet50_keras`, `finetune zoo logits`, the
#      same file loaded with model.load_weights(file) into keras.applications VGG16 / ResNet50
#      (Keras 3 and tf-keras; by_name=True only if the plain load fails, and why is reported).
#   3. PyTorch -> Graft: torchvision resnet18 / resnet50 (seeded, BatchNorm randomised, eval
#      mode), converted with scripts/convert_torch.py, vs PyTorch's logits.
# and prints a table: model, direction, max abs diff, max rel diff (to max |logit|), PASS when
# max abs diff <= 1e-4 * max(1, max |logit|). Exits 1 if any check fails or errors.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if [[ -z "${FINETUNE:-}" ]]; then
    if [[ -x .build/release/finetune ]]; then FINETUNE=.build/release/finetune
    else FINETUNE=.build/debug/finetune; fi
fi
[[ "$FINETUNE" == /* ]] || FINETUNE="$ROOT/$FINETUNE"
KERAS_PY="${KERAS_PY:-/opt/graft-keras-venv/bin/python}"
TORCH_PY="${TORCH_PY:-/usr/bin/python3}"
SEED="${SEED:-0}"
HERE="$ROOT/scripts/fullsize"

if [[ ! -x "$FINETUNE" ]]; then
    echo "check_fullsize: no finetune binary at $FINETUNE (swift build, or set FINETUNE=...)" >&2
    exit 2
fi
for py in "$KERAS_PY" "$TORCH_PY"; do
    command -v "$py" >/dev/null || { echo "check_fullsize: $py not found" >&2; exit 2; }
done

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/graft-fullsize.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
    trap 'echo "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

# TensorFlow's absl start-up notices ("I0000 ... oneDNN custom operations are on", "Could not
# find cuda drivers") ignore TF_CPP_MIN_LOG_LEVEL; drop them, keep everything else.
keras() {
    "$KERAS_PY" "$HERE/keras_check.py" "$@" 2>&1 \
        | { grep -v -E '^(I0000 |WARNING: All log messages before absl::InitializeLog)' || true; }
}
torchpy() { "$TORCH_PY" "$HERE/torch_check.py" "$@"; }

# record_error MODEL DIRECTION MESSAGE: a row that counts as a failure.
record_error() {
    local msg="${3//$'\t'/ }"
    printf '%s\t%s\t-\t-\t-\tERROR\t%s\n' "$1" "$2" "${msg//$'\n'/ }" >> "$RESULTS"
    echo "  ERROR: $1 | $2 | $3"
}

compare() {  # compare MODEL DIRECTION REF TEST
    keras compare --model "$1" --direction "$2" --ref "$3" --test "$4" --results "$RESULTS" \
        || record_error "$1" "$2" "comparison failed"
}

# graft_logits MODEL_FILE OUT [--arch ARCH]: finetune zoo logits, timed; the last line of
# its error output in $GRAFT_ERR on failure.
graft_logits() {
    local model="$1" out="$2" start rc
    shift 2
    start=$SECONDS
    "$FINETUNE" zoo logits --model "$model" "$@" --input "$WORK/input.h5" --out "$out" \
        > "$out.log" 2>&1
    rc=$?
    if [[ $rc -ne 0 ]]; then
        GRAFT_ERR="finetune zoo logits exited $rc: $(grep -v '^\s*$' "$out.log" | tail -n 1)"
        echo "  $GRAFT_ERR"
        return 1
    fi
    echo "  finetune zoo logits $(basename "$model") $*: $((SECONDS - start)) s"
}

echo "finetune: $FINETUNE"
echo "work:     $WORK"
echo
echo "== input"
keras input --out "$WORK/input.h5" --seed "$SEED" --batch 2 --size 224 || exit 1

echo
echo "== 1. Keras -> Graft"
for pair in vgg16:vgg16 resnet50:resnet50_keras; do
    arch="${pair%%:*}" garch="${pair##*:}"
    name="$(echo "$arch" | sed 's/vgg16/VGG16/; s/resnet50/ResNet50/')"
    if ! keras export --arch "$arch" --seed "$SEED" --input "$WORK/input.h5" --dir "$WORK"; then
        record_error "$name" "Keras -> Graft" "keras_check.py export failed"
        continue
    fi
    ref="$WORK/k_${arch}_keras3.h5"
    compare "$name" "sanity: tf-keras vs Keras 3" "$ref" "$WORK/k_${arch}_tfkeras.h5"
    for f in "k_$arch.h5:Keras 2 .h5 (tf-keras) -> Graft" "k_$arch.weights.h5:Keras 3 .weights.h5 -> Graft"; do
        file="${f%%:*}" direction="${f#*:}"
        if graft_logits "$WORK/$file" "$WORK/g_from_$file" --arch "$garch"; then
            compare "$name" "$direction" "$ref" "$WORK/g_from_$file"
        else
            record_error "$name" "$direction" "$GRAFT_ERR"
        fi
    done
done

echo
echo "== 2. Graft -> Keras"
for pair in vgg16:vgg16 resnet50:resnet50_keras; do
    arch="${pair%%:*}" garch="${pair##*:}"
    name="$(echo "$arch" | sed 's/vgg16/VGG16/; s/resnet50/ResNet50/')"
    gfile="$WORK/g_$arch.h5"
    [[ $arch == resnet50 ]] && gfile="$WORK/g_r50.h5"
    if ! "$FINETUNE" zoo init "$garch" --seed "$SEED" --out "$gfile" > "$gfile.log" 2>&1; then
        record_error "$name" "Graft -> Keras" "finetune zoo init $garch failed: $(tail -n 1 "$gfile.log")"
        continue
    fi
    if ! graft_logits "$gfile" "$gfile.logits.h5"; then
        record_error "$name" "Graft -> Keras" "$GRAFT_ERR"
        continue
    fi
    keras load --arch "$arch" --weights "$gfile" --input "$WORK/input.h5" --out-prefix "$gfile.keras"
    for tag in keras3 tfkeras; do
        label="Keras 3"; [[ $tag == tfkeras ]] && label="tf-keras"
        status_line="$(cat "$gfile.keras_$tag.status" 2>/dev/null || echo "failed	no status written")"
        how="${status_line%%$'\t'*}"
        why=""; [[ "$status_line" == *$'\t'* ]] && why="${status_line#*$'\t'}"
        case "$how" in
            plain) compare "$name" "Graft -> $label (load_weights)" "$gfile.logits.h5" "$gfile.keras_$tag.h5" ;;
            by_name)
                compare "$name" "Graft -> $label (load_weights by_name=True)" "$gfile.logits.h5" "$gfile.keras_$tag.h5"
                record_error "$name" "Graft -> $label (plain load_weights)" "$why" ;;
            *) record_error "$name" "Graft -> $label (load_weights)" "$why" ;;
        esac
    done
done

echo
echo "== 3. PyTorch -> Graft"
for arch in resnet18 resnet50; do
    name="$arch (torchvision)"
    if ! torchpy export --arch "$arch" --seed "$SEED" --input "$WORK/input.h5" --dir "$WORK"; then
        record_error "$name" "PyTorch -> Graft" "torch_check.py export failed"
        continue
    fi
    if ! "$TORCH_PY" scripts/convert_torch.py --arch "$arch" --in "$WORK/t_$arch.pth" \
            --out "$WORK/t_$arch.h5" > "$WORK/t_$arch.convert.log" 2>&1; then
        record_error "$name" "PyTorch -> Graft" "convert_torch.py failed: $(tail -n 1 "$WORK/t_$arch.convert.log")"
        continue
    fi
    echo "  $(tail -n 1 "$WORK/t_$arch.convert.log" | cut -c1-100)..."
    if graft_logits "$WORK/t_$arch.h5" "$WORK/g_from_t_$arch.h5"; then
        compare "$name" "PyTorch -> convert_torch.py -> Graft" "$WORK/t_${arch}_torch.h5" "$WORK/g_from_t_$arch.h5"
    else
        record_error "$name" "PyTorch -> Graft" "$GRAFT_ERR"
    fi
done

echo
echo "== results"
keras table --results "$RESULTS"
