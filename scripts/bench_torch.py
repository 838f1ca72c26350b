#!/usr/bin/env python3
"""The PyTorch side of scripts/bench.sh: the same configurations as Examples/GraftBench
(channels-last, 2 threads), median milliseconds per batch after warm-up, one JSON line per
configuration. Developer-machine tool (Debian python3-torch, python3-torchvision); CI never
needs it.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/bench_torch.py [CONFIG ...] [--repeat N]
"""
import json
import sys
import time

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


def main():
    args = sys.argv[1:]
    repeat = 10
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    names = [a for a in args if a in CONFIGS] or list(CONFIGS)
    for name in names:
        build, size, channels, batch, mode = CONFIGS[name]
        model = build().to(memory_format=torch.channels_last)
        x = torch.randn(batch, channels, size, size).to(memory_format=torch.channels_last)
        y = torch.arange(batch) % 10
        if mode == "infer":
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
        print(json.dumps({"framework": "pytorch", "config": name, "ms": ms, "images_per_second": batch / ms * 1000}), flush=True)


if __name__ == "__main__":
    main()
