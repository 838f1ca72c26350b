#!/usr/bin/env python3
"""Builds Graft's embedded demo dataset from Open Clip Art's food folders (Debian
openclipart-png, public domain): six class folders, every image resized once so its longest
side is 96 px (area averaging), saved as 8-bit PNG with its alpha channel.

    /usr/bin/python3 scripts/data/make_demo.py     # needs Pillow (python3-pil)

Output: Sources/Transfer/Resources/demo-food/CLASS/NAME.png and LICENSE.txt. The output is
deterministic for a given Pillow and zlib.
"""
import os
import shutil

from PIL import Image

Image.MAX_IMAGE_PIXELS = None
SOURCE = "/usr/share/openclipart/png/food"
CLASSES = ["beverages", "breads_and_carbs", "desserts", "fruit", "meats_and_eggs", "vegetables"]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Sources", "Transfer", "Resources", "demo-food")
SIDE = 96

shutil.rmtree(OUT, ignore_errors=True)
total = 0
for name in CLASSES:
    os.makedirs(os.path.join(OUT, name))
    for dirpath, _, files in sorted(os.walk(os.path.join(SOURCE, name), followlinks=True)):
        for f in sorted(files):
            if not f.lower().endswith(".png"):
                continue
            im = Image.open(os.path.join(dirpath, f))
            im = im.convert("RGBA")
            scale = SIDE / max(im.size)
            size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
            im = im.resize(size, Image.BOX if scale < 1 else Image.BICUBIC)
            im.save(os.path.join(OUT, name, f), optimize=True)
            total += 1
with open(os.path.join(OUT, "LICENSE.txt"), "w") as f:
    f.write("Images from the Open Clip Art Library (openclipart.org), via Debian's openclipart-png\n"
            "package, food folders: " + ", ".join(CLASSES) + ".\n"
            "Released into the public domain by their authors (Creative Commons CC0 / public domain\n"
            "dedication of the Open Clip Art Library). Resized to a longest side of 96 px by\n"
            "scripts/data/make_demo.py.\n")
print(f"wrote {total} images to {os.path.relpath(OUT, ROOT)}")
