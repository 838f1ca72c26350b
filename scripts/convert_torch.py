#!/usr/bin/env python3
"""Convert a PyTorch checkpoint into a Graft HDF5 weight file.

Supported checkpoints: torchvision's ResNet-18/34/50/101/152, VGG-11/13/16/19 (with or
without batch norm) and Graft's PyTorch LeNet-5 (modules conv1, conv2, fc1, fc2, fc3; see
scripts/fixtures/zoo_torch.py). The file may hold a state_dict, a dict wrapping one under
"state_dict" / "model" / "model_state_dict", or (with --allow-pickle) a whole pickled module.

    python3 scripts/convert_torch.py --arch resnet50 --in resnet50.pth --out resnet50.h5 \\
        [--classes-file names.txt] [--input-size 224] [--allow-pickle]

Needs PyTorch, NumPy and h5py (Debian: apt-get install python3-torch python3-h5py).

What it writes: the Keras 2 HDF5 weights layout, which Graft reads,

* root attributes `layer_names` (fixed-length byte strings, one per layer with weights, in
  network order), `backend` = b"tensorflow", `keras_version` = b"2.15.0";
* one group per layer with attribute `weight_names` (e.g. [b"fc1/kernel:0", b"fc1/bias:0"])
  and one float32 dataset per weight at `<layer>/<weight name>` (so `fc1/fc1/kernel:0`);
* Graft's root attributes: `graft_architecture` (the --arch value), `graft_config` (the
  architecture as compact JSON with sorted keys), `graft_input_size` (int32 [h, w, c]),
  `graft_channel_order`, `graft_mean`, `graft_std` (float32, per channel, for pixels
  scaled to [0, 1]), `graft_class_names` (only with --classes-file) and `graft_provenance`
  (JSON). Graft computes `graft_content_hash` itself.

Layer names are keras.applications' (what Graft's zoo models use):

    ResNet  conv1 / bn1                  -> conv1_conv / conv1_bn
            layer{s}.{i}.conv{k} / bn{k} -> conv{s+1}_block{i+1}_{k}_conv / _bn
            layer{s}.{i}.downsample.0/.1 -> conv{s+1}_block{i+1}_0_conv / _0_bn
            fc                           -> predictions
    VGG     features.{n} (conv, BN)      -> block{b}_conv{c} / block{b}_bn{c}
            classifier.0 / .3 / .6       -> fc1 / fc2 / predictions
    LeNet   conv1, conv2, fc1, fc2, fc3  -> the same names

Weights are rearranged into Keras layouts: conv OIHW -> HWIO [kh, kw, in, out]; dense
(out, in) -> (in, out); BatchNorm weight, bias, running_mean, running_var -> gamma, beta,
moving_mean, moving_variance (num_batches_tracked is dropped). The first dense layer after
the convolutions (VGG fc1, LeNet fc1) also has its inputs permuted from PyTorch's C,H,W
flatten order to Graft's H,W,C (NHWC) order.

Widths, class count and input channels are read from the tensors' shapes (so narrower
variants convert too); the block counts come from --arch. Unknown, missing or misshapen
tensors are refused, and nothing is written. The output is written to a temporary file next
to --out and renamed into place, so a failed run never leaves a half-written file.

Conventions of the configurations written (torchvision's): ResNets put a bottleneck's stride
on the 3x3 convolution ("strideOn": "spatial", "v1.5"), pad symmetrically ("padding":
"torch"), have no convolution biases and use BatchNorm epsilon 1e-5; VGG-BN uses 1e-5.
Preprocessing: torchvision's ImageNet RGB mean/std; LeNet: grayscale, mean 0.5, std 0.5.
"""

import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np
import torch

KERAS_VERSION = b"2.15.0"  # the Keras 2 layout version Graft writes and reads
BACKEND = b"tensorflow"

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
TORCH_BN_EPSILON = 1e-5

RESNETS = {  # block type, blocks per stage
    "resnet18": ("basic", [2, 2, 2, 2]),
    "resnet34": ("basic", [3, 4, 6, 3]),
    "resnet50": ("bottleneck", [3, 4, 6, 3]),
    "resnet101": ("bottleneck", [3, 4, 23, 3]),
    "resnet152": ("bottleneck", [3, 8, 36, 3]),
}
RESNET_STRIDES = [1, 2, 2, 2]

VGG_BLOCKS = {  # convolutions per block (configurations A, B, D, E)
    11: [1, 1, 2, 2, 2],
    13: [2, 2, 2, 2, 2],
    16: [2, 2, 3, 3, 3],
    19: [2, 2, 4, 4, 4],
}
VGGS = {"vgg%d%s" % (d, bn): (d, bn == "_bn") for d in VGG_BLOCKS for bn in ("", "_bn")}

ARCHS = list(RESNETS) + sorted(VGGS, key=lambda a: VGGS[a]) + ["lenet5"]


class ConversionError(Exception):
    """A problem with the user's input: reported as one clear message, exit status 1."""


# ---------------------------------------------------------------------------
# Loading the checkpoint.
# ---------------------------------------------------------------------------

def load_state_dict(path, allow_pickle):
    """The checkpoint's state_dict as {name: tensor}, whatever it was saved as."""
    if not os.path.isfile(path):
        raise ConversionError("%s: no such file" % path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a PyTorch without weights_only (< 1.13)
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises many kinds here
        if not allow_pickle:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConversionError(
                "%s: not a plain state_dict (%s). If it is a whole pickled model that you trust, "
                "rerun with --allow-pickle (unpickling runs code from the file; the model's classes, "
                "e.g. torchvision, must be importable)." % (path, reason))
        obj = torch.load(path, map_location="cpu", weights_only=False)

    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(wrapper)
            if isinstance(inner, torch.nn.Module):
                inner = inner.state_dict()
            if isinstance(inner, dict) and inner and all(torch.is_tensor(v) for v in inner.values()):
                print("using the state_dict stored under %r" % wrapper)
                obj = inner
                break
    if not isinstance(obj, dict) or not obj:
        raise ConversionError("%s: expected a state_dict (a dict of tensors) or a module, found %s"
                              % (path, type(obj).__name__))
    not_tensors = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise ConversionError("%s: these entries are not tensors, so this is not a state_dict: %s"
                              % (path, ", ".join(map(str, not_tensors[:10]))))
    # nn.DataParallel / DistributedDataParallel prefix every key with "module.".
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def shape_of(sd, key, arch, rank):
    """The shape of sd[key], which is needed to infer a width."""
    if key not in sd:
        raise ConversionError("%s: missing tensor %r; is this really a %s checkpoint? "
                              "Its first keys are: %s" % (arch, key, arch, ", ".join(list(sd)[:8])))
    shape = tuple(sd[key].shape)
    if len(shape) != rank:
        raise ConversionError("%s: %r has shape %s, expected %d dimensions" % (arch, key, list(shape), rank))
    return shape


# ---------------------------------------------------------------------------
# Layer specifications: what each Graft layer is made of in the checkpoint.
# ---------------------------------------------------------------------------

def conv(layer, prefix, cin, cout, k, bias):
    shapes = {prefix + ".weight": (cout, cin, k, k)}
    if bias:
        shapes[prefix + ".bias"] = (cout,)
    return {"layer": layer, "kind": "conv", "prefix": prefix, "shapes": shapes}


def bn(layer, prefix, c):
    shapes = {prefix + "." + p: (c,) for p in ("weight", "bias", "running_mean", "running_var")}
    return {"layer": layer, "kind": "bn", "prefix": prefix, "shapes": shapes}


def dense(layer, prefix, cin, cout, chw=None):
    """chw: (C, H, W) when the inputs come from flattening a PyTorch feature map."""
    return {"layer": layer, "kind": "dense", "prefix": prefix, "chw": chw,
            "shapes": {prefix + ".weight": (cout, cin), prefix + ".bias": (cout,)}}


def resnet_specs(arch, sd, input_size):
    block, blocks = RESNETS[arch]
    expansion = 4 if block == "bottleneck" else 1
    stem_width, channels = shape_of(sd, "conv1.weight", arch, 4)[:2]
    widths = [shape_of(sd, "layer%d.0.conv1.weight" % (s + 1), arch, 4)[0] for s in range(len(blocks))]

    specs = [conv("conv1_conv", "conv1", channels, stem_width, 7, False),
             bn("conv1_bn", "bn1", stem_width)]
    cin = stem_width
    for s, (width, count, stride) in enumerate(zip(widths, blocks, RESNET_STRIDES)):
        cout = width * expansion
        for i in range(count):
            name, prefix = "conv%d_block%d_" % (s + 2, i + 1), "layer%d.%d." % (s + 1, i)
            if block == "basic":
                chans = [(cin, width, 3), (width, width, 3)]
            else:
                chans = [(cin, width, 1), (width, width, 3), (width, cout, 1)]
            for k, (a, b, ksize) in enumerate(chans, start=1):
                specs.append(conv(name + "%d_conv" % k, prefix + "conv%d" % k, a, b, ksize, False))
                specs.append(bn(name + "%d_bn" % k, prefix + "bn%d" % k, b))
            if i == 0 and (stride != 1 or cin != cout):  # torchvision's projection shortcut
                specs.append(conv(name + "0_conv", prefix + "downsample.0", cin, cout, 1, False))
                specs.append(bn(name + "0_bn", prefix + "downsample.1", cout))
            cin = cout
    classes = shape_of(sd, "fc.weight", arch, 2)[0]
    specs.append(dense("predictions", "fc", cin, classes))

    size = input_size or 224
    config = {"name": "resnet", "block": block, "stemWidth": stem_width, "widths": widths,
              "blocks": blocks, "strides": RESNET_STRIDES, "strideOn": "spatial", "padding": "torch",
              "convBias": False, "epsilon": TORCH_BN_EPSILON, "stem": "imagenet", "classes": classes,
              "input": [size, size, channels], "includeTop": True, "pooling": "avg"}
    pre = preprocessing_imagenet(channels)
    return specs, config, pre


def vgg_specs(arch, sd, input_size):
    depth, batch_norm = VGGS[arch]
    channels = shape_of(sd, "features.0.weight", arch, 4)[1]
    specs, blocks, cin, index = [], [], channels, 0
    for b, count in enumerate(VGG_BLOCKS[depth], start=1):
        widths = []
        for c in range(1, count + 1):
            width = shape_of(sd, "features.%d.weight" % index, arch, 4)[0]
            specs.append(conv("block%d_conv%d" % (b, c), "features.%d" % index, cin, width, 3, True))
            if batch_norm:
                specs.append(bn("block%d_bn%d" % (b, c), "features.%d" % (index + 1), width))
            index += 3 if batch_norm else 2  # conv, [BN], ReLU
            widths.append(width)
            cin = width
        index += 1  # max pooling
        blocks.append(widths)

    # torchvision pools the features to 7x7 (AdaptiveAvgPool2d), then flattens C,H,W.
    fc1_in = shape_of(sd, "classifier.0.weight", arch, 2)[1]
    side = int(round((fc1_in / cin) ** 0.5))
    if side * side * cin != fc1_in:
        raise ConversionError("%s: classifier.0 takes %d inputs, which is not %d channels x a square "
                              "feature map" % (arch, fc1_in, cin))
    scale = 2 ** len(blocks)
    size = input_size or side * scale
    if size // scale != side:
        raise ConversionError("%s: the classifier expects a %dx%d feature map, so the input must be %d px "
                              "(Graft's VGG has no adaptive pooling), not %d"
                              % (arch, side, side, side * scale, size))
    fc1 = shape_of(sd, "classifier.0.weight", arch, 2)[0]
    fc2 = shape_of(sd, "classifier.3.weight", arch, 2)[0]
    classes = shape_of(sd, "classifier.6.weight", arch, 2)[0]
    specs += [dense("fc1", "classifier.0", fc1_in, fc1, chw=(cin, side, side)),
              dense("fc2", "classifier.3", fc1, fc2),
              dense("predictions", "classifier.6", fc2, classes)]

    config = {"name": "vgg", "blocks": blocks, "batchNorm": batch_norm, "fc": [fc1, fc2],
              "classes": classes, "input": [size, size, channels], "includeTop": True,
              "dropout": 0.5, "epsilon": TORCH_BN_EPSILON}  # torchvision: Dropout(0.5) after fc1, fc2
    return specs, config, preprocessing_imagenet(channels)


def lenet_specs(arch, sd, input_size):
    if input_size not in (None, 32):
        raise ConversionError("lenet5: the input is always 32x32, not %d" % input_size)
    channels = shape_of(sd, "conv1.weight", arch, 4)[1]
    classes = shape_of(sd, "fc3.weight", arch, 2)[0]
    specs = [conv("conv1", "conv1", channels, 6, 5, True),
             conv("conv2", "conv2", 6, 16, 5, True),
             dense("fc1", "fc1", 16 * 5 * 5, 120, chw=(16, 5, 5)),
             dense("fc2", "fc2", 120, 84),
             dense("fc3", "fc3", 84, classes)]
    config = {"name": "lenet5", "inputChannels": channels, "classes": classes}
    pre = {"input_size": [32, 32, channels], "channel_order": "L" if channels == 1 else "RGB",
           "mean": [0.5] * channels, "std": [0.5] * channels}
    return specs, config, pre


def preprocessing_imagenet(channels):
    if channels != 3:
        raise ConversionError("the checkpoint takes %d input channels; torchvision models take 3 (RGB)" % channels)
    return {"channel_order": "RGB", "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


# ---------------------------------------------------------------------------
# Checking and converting.
# ---------------------------------------------------------------------------

def check_keys(arch, sd, specs):
    expected = {k for spec in specs for k in spec["shapes"]}
    ignorable = {spec["prefix"] + ".num_batches_tracked" for spec in specs if spec["kind"] == "bn"}
    unknown = [k for k in sd if k not in expected and k not in ignorable]
    missing = [k for spec in specs for k in spec["shapes"] if k not in sd]
    problems = []
    if unknown:
        problems.append("%d unknown tensor(s) (not part of %s): %s" % (len(unknown), arch, ", ".join(unknown[:20])))
    if missing:
        problems.append("%d missing tensor(s): %s" % (len(missing), ", ".join(missing[:20])))
    misshapen = ["%s is %s, expected %s" % (k, list(sd[k].shape), list(shape))
                 for spec in specs for k, shape in spec["shapes"].items()
                 if k in sd and tuple(sd[k].shape) != shape]
    if misshapen:
        problems.append("%d tensor(s) of the wrong shape: %s" % (len(misshapen), "; ".join(misshapen[:20])))
    if problems:
        more = " (and more)" if max(len(unknown), len(missing), len(misshapen)) > 20 else ""
        raise ConversionError("the checkpoint does not match --arch %s: %s%s. Check --arch (the depth "
                              "and _bn must match the checkpoint)." % (arch, "; ".join(problems), more))
    return sorted(k for k in ignorable if k in sd)


def to_numpy(t):
    return t.detach().to(torch.float64).cpu().numpy()


def convert_layer(spec, sd):
    """[(weight name, float32 array, torch key, note)] for one layer, in Keras order."""
    p, out = spec["prefix"], []
    if spec["kind"] == "conv":
        out.append(("kernel:0", to_numpy(sd[p + ".weight"]).transpose(2, 3, 1, 0), p + ".weight", "OIHW -> HWIO"))
        if p + ".bias" in spec["shapes"]:
            out.append(("bias:0", to_numpy(sd[p + ".bias"]), p + ".bias", "as is"))
    elif spec["kind"] == "bn":
        for torch_name, keras_name in (("weight", "gamma"), ("bias", "beta"),
                                       ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
            out.append((keras_name + ":0", to_numpy(sd[p + "." + torch_name]), p + "." + torch_name, "as is"))
    else:
        w = to_numpy(sd[p + ".weight"])  # (out, in)
        note = "(out, in) -> (in, out)"
        if spec["chw"] is not None:
            c, h, wd = spec["chw"]
            # Column c*H*W + y*W + x of the PyTorch matrix becomes row (y*W + x)*C + c.
            w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
            note += ", inputs C,H,W=%dx%dx%d -> H,W,C" % (c, h, wd)
        out.append(("kernel:0", w.T, p + ".weight", note))
        out.append(("bias:0", to_numpy(sd[p + ".bias"]), p + ".bias", "as is"))
    return [(name, np.ascontiguousarray(a, dtype=np.float32), key, note) for name, a, key, note in out]


def read_class_names(path, classes):
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f.read().splitlines()]
    names = [n for n in names if n]
    if len(names) != classes:
        raise ConversionError("%s: %d class names (one per non-empty line), but the model has %d classes"
                              % (path, len(names), classes))
    return names


def byte_strings(items):
    """A NumPy array of fixed-length byte strings, as Keras writes name lists."""
    return np.array([s.encode("utf-8") for s in items])


def write_h5(path, arch, layers, config, pre, class_names, source_file):
    """Write atomically: a temporary file in the destination's folder, renamed into place."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConversionError("%s: the folder %s does not exist" % (path, folder))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = byte_strings([name for name, _ in layers])
            f.attrs["backend"] = np.bytes_(BACKEND)
            f.attrs["keras_version"] = np.bytes_(KERAS_VERSION)
            f.attrs["graft_architecture"] = np.bytes_(arch.encode("utf-8"))
            f.attrs["graft_config"] = np.bytes_(json.dumps(config, sort_keys=True, separators=(",", ":")).encode("utf-8"))
            f.attrs["graft_input_size"] = np.array(config["input"] if "input" in config else pre["input_size"], dtype=np.int32)
            f.attrs["graft_channel_order"] = np.bytes_(pre["channel_order"].encode("utf-8"))
            f.attrs["graft_mean"] = np.array(pre["mean"], dtype=np.float32)
            f.attrs["graft_std"] = np.array(pre["std"], dtype=np.float32)
            if class_names is not None:
                f.attrs["graft_class_names"] = byte_strings(class_names)
            provenance = {"source": "torch", "file": os.path.basename(source_file), "arch": arch}
            f.attrs["graft_provenance"] = np.bytes_(json.dumps(provenance, sort_keys=True, separators=(",", ":")).encode("utf-8"))
            for name, weights in layers:
                g = f.create_group(name)
                g.attrs["weight_names"] = byte_strings(["%s/%s" % (name, w) for w, _ in weights])
                for w, a in weights:
                    # track_times=False: the same checkpoint always gives the same bytes.
                    g.create_dataset("%s/%s" % (name, w), data=a, dtype=np.float32, track_times=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def convert(arch, in_path, out_path, classes_file=None, input_size=None, allow_pickle=False):
    sd = load_state_dict(in_path, allow_pickle)
    if arch in RESNETS:
        specs, config, pre = resnet_specs(arch, sd, input_size)
    elif arch in VGGS:
        specs, config, pre = vgg_specs(arch, sd, input_size)
    elif arch == "lenet5":
        specs, config, pre = lenet_specs(arch, sd, input_size)
    else:
        raise ConversionError("unknown --arch %r; choose one of: %s" % (arch, ", ".join(ARCHS)))
    skipped = check_keys(arch, sd, specs)
    class_names = read_class_names(classes_file, config["classes"]) if classes_file else None

    layers, rows = [], []
    for spec in specs:
        weights = convert_layer(spec, sd)
        layers.append((spec["layer"], [(w, a) for w, a, _, _ in weights]))
        for w, a, key, note in weights:
            rows.append((key, "%s/%s" % (spec["layer"], w), list(sd[key].shape), list(a.shape), note))

    print("%s: %d tensors -> %d layers of %s" % (in_path, len(rows), len(layers), arch))
    kw = max(len(k) for k in [r[0] for r in rows] + skipped)
    lw = max(len(r[1]) for r in rows)
    for key, target, src, dst, note in rows:
        print("  %-*s -> %-*s %-18s -> %-18s %s" % (kw, key, lw, target, src, dst, note))
    for key in skipped:
        print("  %-*s    skipped (BatchNorm step counter, unused at inference)" % (kw, key))
    write_h5(out_path, arch, layers, config, pre, class_names, in_path)
    print("wrote %s (config %s%s)" % (out_path, json.dumps(config, sort_keys=True, separators=(",", ":")),
                                      "" if class_names else "; no --classes-file, so no class names"))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert a torchvision ResNet/VGG or Graft LeNet-5 PyTorch checkpoint into a Graft HDF5 weight file.")
    parser.add_argument("--arch", required=True, choices=ARCHS, metavar="ARCH",
                        help="the checkpoint's architecture: " + ", ".join(ARCHS))
    parser.add_argument("--in", dest="in_path", required=True, metavar="FILE",
                        help="the .pt/.pth checkpoint (a state_dict, or a whole module with --allow-pickle)")
    parser.add_argument("--out", dest="out_path", required=True, metavar="FILE", help="the .h5 file to write")
    parser.add_argument("--classes-file", metavar="FILE",
                        help="class names, one per line, in output order (stored as graft_class_names)")
    parser.add_argument("--input-size", type=int, metavar="PX",
                        help="square input size recorded in the configuration (default 224; LeNet: 32; "
                             "VGG: fixed by its classifier)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow loading a whole pickled module (runs code from the file: trusted files only)")
    args = parser.parse_args(argv)
    try:
        convert(args.arch, args.in_path, args.out_path, args.classes_file, args.input_size, args.allow_pickle)
    except ConversionError as e:
        print("convert_torch: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
