#!/usr/bin/env python3
"""PyTorch side of scripts/check_fullsize.sh (full-size torchvision ResNets against Graft).

Run with a Python that has torch, torchvision, h5py and NumPy (Debian: /usr/bin/python3):

    python3 scripts/fullsize/torch_check.py export --arch resnet18|resnet50 --seed S \\
        --input input.h5 --dir D

Builds torchvision.models.ARCH() (random init, torch.manual_seed(S)), randomises every
BatchNorm's weight, running_var ~ U[0.5, 1.5], bias ~ N(0, 0.1^2), running_mean ~ N(0, 0.2^2)
(torchvision initialises them to the identity, which would not exercise them), puts the
model in eval mode and writes

    D/t_ARCH.pth        the state_dict (what scripts/convert_torch.py reads)
    D/t_ARCH_torch.h5   the logits (dataset 'logits') on the NHWC dataset 'input' of
                        input.h5, transposed to NCHW for PyTorch
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402


def main():
    p = argparse.ArgumentParser(description="torchvision ResNet logits and state_dict for check_fullsize.sh")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("export")
    s.add_argument("--arch", required=True, choices=["resnet18", "resnet50"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--input", required=True)
    s.add_argument("--dir", required=True)
    args = p.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    model = getattr(torchvision.models, args.arch)()
    g = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    model.eval()

    with h5py.File(args.input, "r") as f:
        x = np.asarray(f["input"], dtype=np.float32)  # NHWC
    with torch.no_grad():
        y = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()

    base = os.path.join(args.dir, "t_" + args.arch)
    torch.save(model.state_dict(), base + ".pth")
    with h5py.File(base + "_torch.h5", "w") as f:
        f.create_dataset("logits", data=y.astype(np.float32))
    print("%s: %d parameters (torch %s, torchvision %s); wrote %s.pth, logits %s, max|logit| %.4g"
          % (args.arch, sum(t.numel() for t in model.parameters()), torch.__version__,
             torchvision.__version__, base, list(y.shape), float(np.max(np.abs(y)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
