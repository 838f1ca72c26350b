#!/usr/bin/env python3
"""Keras side of scripts/check_fullsize.sh (full-size VGG16 / ResNet50 against Graft).

Run with the Keras virtual environment (TensorFlow CPU, tf-keras for the Keras 2 API,
Keras 3, h5py, NumPy):

    /opt/graft-keras-venv/bin/python scripts/fullsize/keras_check.py SUBCOMMAND ...

Subcommands:

  input   --out input.h5 [--seed 0] [--batch 2] [--size 224]
          Writes the float32 NHWC dataset 'input' ~ N(0, 1).
  export  --arch vgg16|resnet50 --seed S --input input.h5 --dir D
          Builds keras.applications.VGG16 / ResNet50(weights=None, classifier_activation=None)
          with Keras 3, seeded; randomises every bias and BatchNorm parameter (the Keras
          initialisers make them 0 / identity, which would not exercise them); copies the
          weights into the same model built with tf-keras. Writes
            D/k_ARCH.h5          tf-keras save_weights (Keras 2 HDF5 weights layout)
            D/k_ARCH.weights.h5  Keras 3 save_weights (Keras 3 layout)
            D/k_ARCH_keras3.h5   Keras 3 logits (dataset 'logits')
            D/k_ARCH_tfkeras.h5  tf-keras logits
  load    --arch vgg16|resnet50 --weights FILE.h5 --input input.h5 --out-prefix P
          Loads FILE.h5 into keras.applications.VGG16 / ResNet50(weights=None,
          classifier_activation=None) with Keras 3 and with tf-keras using plain
          model.load_weights(FILE); if that fails, says exactly why and tries
          load_weights(FILE, by_name=True). Writes P_keras3.h5 / P_tfkeras.h5 (logits) for each
          framework that loaded the file, and P_keras3.status / P_tfkeras.status: one line,
          "plain", "by_name" (plain failed) or "failed", followed by the error message(s).
  compare --model M --direction D --ref REF.h5 --test TEST.h5 --results R.tsv
          Appends one row to R.tsv: the max abs and max relative (to max |ref logit|)
          difference between the two 'logits' datasets, and PASS / FAIL (PASS when
          max abs <= 1e-4 * max(1, max |ref logit|)).
  table   --results R.tsv
          Prints the results table; exits 1 if any row is not PASS.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet TensorFlow's start-up notices
sys.dont_write_bytecode = True  # leave no __pycache__

import h5py  # noqa: E402
import numpy as np  # noqa: E402

TOLERANCE = 1e-4


# ---------------------------------------------------------------------------
# HDF5 helpers (no TensorFlow needed).
# ---------------------------------------------------------------------------

def read_dataset(path, name):
    with h5py.File(path, "r") as f:
        if name not in f:
            raise SystemExit("%s: no dataset %r (has: %s)" % (path, name, ", ".join(f.keys())))
        return np.asarray(f[name], dtype=np.float64)


def write_dataset(path, name, array):
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=np.asarray(array, dtype=np.float32))


def cmd_input(args):
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, args.size, args.size, 3)).astype(np.float32)
    write_dataset(args.out, "input", x)
    print("wrote %s: input %s ~ N(0, 1), seed %d" % (args.out, list(x.shape), args.seed))


def cmd_compare(args):
    ref = read_dataset(args.ref, "logits")
    test = read_dataset(args.test, "logits")
    if ref.shape != test.shape:
        row = [args.model, args.direction, "-", "-", "-", "FAIL",
               "shape %s vs %s" % (list(ref.shape), list(test.shape))]
    else:
        scale = float(np.max(np.abs(ref)))
        diff = float(np.max(np.abs(ref - test)))
        rel = diff / scale if scale > 0 else float("inf")
        ok = np.all(np.isfinite(test)) and diff <= TOLERANCE * max(1.0, scale)
        top = "top-1 agree %d/%d" % (int(np.sum(ref.argmax(-1) == test.argmax(-1))), ref.shape[0])
        row = [args.model, args.direction, "%.3e" % diff, "%.3e" % rel, "%.4g" % scale,
               "PASS" if ok else "FAIL", top]
    with open(args.results, "a", encoding="utf-8") as f:
        f.write("\t".join(row) + "\n")
    print("  %s | %s | max abs %s | max rel %s | max|logit| %s | %s (%s)" % tuple(row))


def cmd_table(args):
    rows = []
    if os.path.exists(args.results):
        with open(args.results, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    header = ["model", "direction", "max abs diff", "max rel diff", "max|logit|", "result", "note"]
    rows = [(r + [""] * len(header))[:len(header)] for r in rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    failed = [r for r in rows if r[5] != "PASS"]
    print()
    print("%d checks, %d passed, %d failed (PASS: max abs diff <= %g * max(1, max|logit|))"
          % (len(rows), len(rows) - len(failed), len(failed), TOLERANCE))
    return 1 if failed or not rows else 0


# ---------------------------------------------------------------------------
# Keras.
# ---------------------------------------------------------------------------

def frameworks():
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras  # Keras 3
    import tf_keras  # Keras 2 API
    return keras, tf_keras


def build(K, arch):
    app = {"vgg16": K.applications.VGG16, "resnet50": K.applications.ResNet50}[arch]
    return app(weights=None, classifier_activation=None)


def predict(model, x):
    return np.asarray(model.predict(x, batch_size=x.shape[0], verbose=0), dtype=np.float32)


def randomize_bias_and_bn(model, seed):
    """Biases ~ N(0, 0.1^2); BN gamma, moving_variance ~ U[0.5, 1.5], beta ~ N(0, 0.1^2),
    moving_mean ~ N(0, 0.2^2). Kernels keep the (seeded) Keras initialisers' values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = layer.get_weights()
        if not values:
            continue
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            gamma, beta, mean, var = values
            values = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                      rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)]
        elif kind in ("Conv2D", "Dense"):
            if len(values) == 2:
                values = [values[0], rng.normal(0, 0.1, values[1].shape)]
        else:
            raise SystemExit("unexpected layer with weights: %s (%s)" % (layer.name, kind))
        layer.set_weights([np.asarray(v, dtype=np.float32) for v in values])


def cmd_export(args):
    keras, tf_keras = frameworks()
    x = read_dataset(args.input, "input").astype(np.float32)
    keras.utils.set_random_seed(args.seed)
    m3 = build(keras, args.arch)
    randomize_bias_and_bn(m3, args.seed + 1)
    m2 = build(tf_keras, args.arch)
    copied = 0
    for layer in m3.layers:
        values = layer.get_weights()
        if values:
            m2.get_layer(layer.name).set_weights(values)
            copied += 1
    print("%s: %d layers with weights, %d parameters (Keras %s, tf-keras %s)"
          % (args.arch, copied, m3.count_params(), keras.__version__, tf_keras.__version__))

    base = os.path.join(args.dir, "k_" + args.arch)
    m2.save_weights(base + ".h5")          # tf-keras: Keras 2 HDF5 weights layout
    m3.save_weights(base + ".weights.h5")  # Keras 3 layout
    y3 = predict(m3, x)
    y2 = predict(m2, x)
    write_dataset(base + "_keras3.h5", "logits", y3)
    write_dataset(base + "_tfkeras.h5", "logits", y2)
    print("wrote %s.h5, %s.weights.h5; logits %s, max|logit| %.4g, Keras 3 vs tf-keras max abs %.3e"
          % (base, base, list(y3.shape), float(np.max(np.abs(y3))), float(np.max(np.abs(y3 - y2)))))


def first_line(e):
    text = str(e).strip()
    return "%s: %s" % (type(e).__name__, " ".join(text.split()) if text else "")


def cmd_load(args):
    keras, tf_keras = frameworks()
    x = read_dataset(args.input, "input").astype(np.float32)
    status = 0
    for tag, K in (("keras3", keras), ("tfkeras", tf_keras)):
        label = "Keras %s" % keras.__version__ if tag == "keras3" else "tf-keras %s" % tf_keras.__version__
        model = build(K, args.arch)
        how, errors = None, []
        try:
            model.load_weights(args.weights)
            how = "plain"
        except Exception as e:  # noqa: BLE001 - report whatever Keras raises
            errors.append("plain load_weights failed: " + first_line(e))
            print("  %s: plain load_weights(%s) failed: %s" % (label, args.weights, first_line(e)))
            model = build(K, args.arch)
            try:
                model.load_weights(args.weights, by_name=True)
                how = "by_name"
            except Exception as e2:  # noqa: BLE001
                errors.append("load_weights(by_name=True) failed: " + first_line(e2))
                print("  %s: load_weights(by_name=True) failed too: %s" % (label, first_line(e2)))
        with open("%s_%s.status" % (args.out_prefix, tag), "w", encoding="utf-8") as f:
            f.write((how or "failed") + ("\t" + " | ".join(errors) if errors else "") + "\n")
        if how is None:
            status = 1
            continue
        y = predict(model, x)
        write_dataset("%s_%s.h5" % (args.out_prefix, tag), "logits", y)
        print("  %s: load_weights%s OK, logits %s" % (label, "" if how == "plain" else "(by_name=True)",
                                                     list(y.shape)))
    return status


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("input")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--batch", type=int, default=2)
    s.add_argument("--size", type=int, default=224)
    s = sub.add_parser("export")
    s.add_argument("--arch", required=True, choices=["vgg16", "resnet50"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--input", required=True)
    s.add_argument("--dir", required=True)
    s = sub.add_parser("load")
    s.add_argument("--arch", required=True, choices=["vgg16", "resnet50"])
    s.add_argument("--weights", required=True)
    s.add_argument("--input", required=True)
    s.add_argument("--out-prefix", required=True)
    s = sub.add_parser("compare")
    for a in ("--model", "--direction", "--ref", "--test", "--results"):
        s.add_argument(a, required=True)
    s = sub.add_parser("table")
    s.add_argument("--results", required=True)
    args = p.parse_args()
    fn = {"input": cmd_input, "export": cmd_export, "load": cmd_load,
          "compare": cmd_compare, "table": cmd_table}[args.cmd]
    return fn(args) or 0


if __name__ == "__main__":
    sys.exit(main())
