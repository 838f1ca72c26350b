#!/usr/bin/env python3
"""The PyTorch side of scripts/bench.sh: the same configurations as Examples/GraftBench
(channels-last, 2 threads), median milliseconds per batch after warm-up, one JSON line per
configuration. Developer-machine tool (Debian python3-torch, python3-torchvision); CI never
needs it.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench_torch.py [CONFIG ...] [--repeat N] [--images DIR]
    PYTHON scripts/bench_torch.py --onnxruntime [CONFIG ...]   # the inference rows in ONNX Runtime
    /usr/bin/python3 scripts/bench_torch.py --write-images DIR   # the 1,000 PNGs of loader-64 / finetune-64

With --images DIR also loader-64 (torchvision ImageFolder + the same augmentation, one epoch in
the main process) and finetune-64 (ResNet-18 at 64 px, first three stages frozen, 80/20 split,
two epochs with validation; PyTorch has no feature cache, so its later epoch is a second one).

With --onnxruntime the inference configurations run in ONNX Runtime instead (the PyTorch model
exported with torch.onnx, opset 13, all graph optimisations, 2 intra-op threads); PYTHON is one
that has both torch and onnxruntime, e.g. a virtual environment made with
`/usr/bin/python3 -m venv --system-site-packages DIR && DIR/bin/pip install onnxruntime`.
"""
import json
import os
import sys
import time

import numpy as np
from PIL import Image

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(2)
torch.manual_seed(0)


class LeNet5(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                  nn.Linear(84, classes))

    def forward(self, x):
        return self.body(x)


def cifar_resnet(depth=20, classes=10):
    """ResNet-20 as in Graft's `.cifar(20)`: 16/32/64 widths, projection shortcuts."""
    n = (depth - 2) // 6

    class Block(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o)
            self.c2, self.b2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
            self.short = None if s == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (x if self.short is None else self.short(x)))

    layers, i = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for o, s in [(16, 1), (32, 2), (64, 2)]:
        for b in range(n):
            layers.append(Block(i, o, s if b == 0 else 1))
            i = o
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


CONFIGS = {
    # name: (model builder, size, channels, batch, mode); mode: infer, train, fc, frozen3
    "resnet18-224-infer": (lambda: torchvision.models.resnet18(num_classes=10), 224, 3, 8, "infer"),
    "resnet18-224-train": (lambda: torchvision.models.resnet18(num_classes=10), 224, 3, 8, "train"),
    "resnet18-224-fc": (lambda: torchvision.models.resnet18(num_classes=10), 224, 3, 8, "fc"),
    "vgg16-224-infer": (lambda: torchvision.models.vgg16(num_classes=10), 224, 3, 4, "infer"),
    "resnet20-32-train": (lambda: cifar_resnet(20), 32, 3, 128, "train"),
    "lenet5-28-train": (lambda: LeNet5(1), 32, 1, 64, "train"),
    "resnet18-32-frozen3": (lambda: torchvision.models.resnet18(num_classes=10), 32, 3, 32, "frozen3"),
    "resnet18-64-frozen3": (lambda: torchvision.models.resnet18(num_classes=10), 64, 3, 32, "frozen3"),
}


def step_gflop(model, x, mode):
    """Floating-point operations of one step, from the convolutions and linear layers (2 per
    multiply-add): the forward pass, plus for training the weight gradient of each trainable
    layer and the data gradient of each layer above the first trainable one. Both frameworks'
    GFLOP/s are this count over their own time."""
    layers = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        layers.append((2.0 * output.numel() * per_output, module.weight.requires_grad))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    total = sum(f for f, _ in layers)
    if mode != "infer":
        seen_trainable = False
        for flops, trainable in layers:
            if seen_trainable:
                total += flops  # data gradient
            if trainable:
                total += flops  # weight gradient
                seen_trainable = True
    return total / 1e9


def write_images(folder, classes=10, per_class=100, side=96):
    """Smooth colour patterns, one hue and frequency per class (the same files for both frameworks)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    for c in range(classes):
        os.makedirs(f"{folder}/class{c}", exist_ok=True)
        for i in range(per_class):
            phase = rng.uniform(0, 6)
            channels = [0.5 + 0.5 * np.sin(x * 0.04 * (c + 1) + y * 0.03 * (k + 1) + phase) for k in range(3)]
            pixels = (np.stack(channels, axis=-1) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(f"{folder}/class{c}/{i}.png")


def image_batches(folder):
    """Graft's default fine-tuning pipeline (hflip,rotate=10,jitter=0.1) at 64 px, batches of 32."""
    transform = torchvision.transforms.Compose([
        torchvision.transforms.Resize((64, 64)), torchvision.transforms.RandomHorizontalFlip(),
        torchvision.transforms.RandomRotation(10), torchvision.transforms.ColorJitter(0.1, 0.1, 0.1),
        torchvision.transforms.ToTensor(), torchvision.transforms.Normalize([0.5] * 3, [0.25] * 3)])
    return torchvision.datasets.ImageFolder(folder, transform=transform)


def bench_images(folder, wanted):
    data = image_batches(folder)
    if "loader-64" in wanted:
        loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
        times = []
        for epoch in range(3):
            t = time.perf_counter()
            for _ in loader:
                now = time.perf_counter()
                if epoch > 0:  # the first epoch warms the file cache
                    times.append((now - t) * 1000)
                t = now
        ms = sorted(times)[len(times) // 2]
        print(json.dumps({"framework": "pytorch", "config": "loader-64", "ms": ms, "images_per_second": 32 / ms * 1000}),
              flush=True)
    if "finetune-64" in wanted:
        train, validation = torch.utils.data.random_split(data, [800, len(data) - 800],
                                                          generator=torch.Generator().manual_seed(0))
        model = torchvision.models.resnet18(num_classes=10).to(memory_format=torch.channels_last)
        for m in [model.conv1, model.bn1, model.layer1, model.layer2]:
            for p in m.parameters():
                p.requires_grad = False
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        epochs = []
        for epoch in range(2):
            t = time.perf_counter()
            model.train()
            for m in [model.conv1, model.bn1, model.layer1, model.layer2]:
                m.eval()
            for x, y in torch.utils.data.DataLoader(train, batch_size=32, shuffle=True):
                opt.zero_grad()
                loss_fn(model(x.to(memory_format=torch.channels_last)), y).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                for x, y in torch.utils.data.DataLoader(validation, batch_size=32):
                    model(x.to(memory_format=torch.channels_last))
            epochs.append((time.perf_counter() - t) * 1000)
        for name, ms in [("finetune-64-epoch1", epochs[0]), ("finetune-64-later", epochs[1])]:
            print(json.dumps({"framework": "pytorch", "config": name, "ms": ms, "images_per_second": 800 / ms * 1000}),
                  flush=True)


def onnxruntime_step(model, x):
    """One inference batch of `model` in ONNX Runtime (CPU execution provider, 2 threads)."""
    import io
    import onnxruntime

    exported = io.BytesIO()
    torch.onnx.export(model, x, exported, opset_version=13)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.contiguous().numpy()}
    return lambda: session.run(None, feed)


def main():
    args = sys.argv[1:]
    if "--write-images" in args:
        write_images(args[args.index("--write-images") + 1])
        return
    images = None
    if "--images" in args:
        i = args.index("--images")
        images = args[i + 1]
        del args[i:i + 2]
    repeat = 10
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    framework = "pytorch"
    if "--onnxruntime" in args:
        args.remove("--onnxruntime")
        framework = "onnxruntime"
    names = [a for a in args if a in CONFIGS] or ([] if args else list(CONFIGS))
    if framework == "onnxruntime":
        names = [name for name in names if CONFIGS[name][4] == "infer"]
    for name in names:
        build, size, channels, batch, mode = CONFIGS[name]
        model = build().to(memory_format=torch.channels_last)
        x = torch.randn(batch, channels, size, size).to(memory_format=torch.channels_last)
        y = torch.arange(batch) % 10
        if mode == "infer" and framework == "onnxruntime":
            model.eval()
            step = onnxruntime_step(model, x)
        elif mode == "infer":
            model.eval()
            def step():
                with torch.no_grad():
                    model(x)
        else:
            model.train()
            if mode == "fc":
                for p in model.parameters():
                    p.requires_grad = False
                for p in model.fc.parameters():
                    p.requires_grad = True
                model.eval()  # frozen BatchNorm in inference mode, as Graft's default
            if mode == "frozen3":
                for m in [model.conv1, model.bn1, model.layer1, model.layer2]:
                    for p in m.parameters():
                        p.requires_grad = False
                    m.eval()
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
            loss_fn = nn.CrossEntropyLoss()
            def step():
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
        for _ in range(3):
            step()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            step()
            times.append((time.perf_counter() - t) * 1000)
        ms = sorted(times)[len(times) // 2]
        gflop = step_gflop(model, x, mode)
        print(json.dumps({"framework": framework, "config": name, "ms": ms, "images_per_second": batch / ms * 1000,
                          "gflop": gflop}), flush=True)
    if images and framework == "pytorch":
        # As GraftBench: every configuration when none is named, else only those named.
        bench_images(images, [a for a in ["loader-64", "finetune-64"] if not args or a in args])


if __name__ == "__main__":
    main()
