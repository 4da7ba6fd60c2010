"""A generated image folder for small-data measurements: circles, squares and triangles of random
colours, sizes and positions on random backgrounds, written as JPEG files in one sub-folder per
class, so that they are read back through kerascnn's folder pipeline like a user's photos.

    python tools/shapes.py OUT_DIR --per-class 40 --size 64 --seed 0
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")


def _colour(rng) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))


def draw(kind: str, rng, size: int) -> Image.Image:
    """One image of `kind` with a random background, colour, size and position."""
    image = Image.new("RGB", (size, size), _colour(rng))
    pen = ImageDraw.Draw(image)
    radius = rng.uniform(0.2, 0.45) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    fill = _colour(rng)
    if kind == "circle":
        pen.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    else:
        # Upright: a square's sides and a triangle's base horizontal.
        corners = 4 if kind == "square" else 3
        angle = np.pi / 4 if kind == "square" else -np.pi / 2
        points = [(cx + radius * np.cos(angle + 2 * np.pi * k / corners),
                   cy + radius * np.sin(angle + 2 * np.pi * k / corners)) for k in range(corners)]
        pen.polygon(points, fill=fill)
    return image


def write_folder(root: str, per_class: int, size: int = 64, seed: int = 0) -> str:
    """Writes `per_class` JPEG images of each shape under `root/<class>/`; returns `root`."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        os.makedirs(os.path.join(root, kind), exist_ok=True)
        for index in range(per_class):
            path = os.path.join(root, kind, f"{kind}_{index:04d}.jpg")
            draw(kind, rng, size).save(path, quality=90)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_folder(args.out_dir, args.per_class, args.size, args.seed)


if __name__ == "__main__":
    main()
