"""The few-shot protocol's data (`tools/recipes_small_data.py`): scikit-learn's digits and a
generated shapes folder as pools, every other image the test set, and k training images per class
drawn from the rest by seed."""

from __future__ import annotations

import os
import shutil

import numpy as np


def digits_pool():
    """scikit-learn's 1,797 digits as uint8 images (8x8x1, 0-255) and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255 / 16)).round().astype("uint8")[..., None]
    return images, digits.target.astype("int64")


def shapes_pool(root: str, per_class: int = 100):
    """The shapes as a list of (path, label) pairs, written once under `root`."""
    from shapes import CLASSES, write_folder

    if not os.path.isdir(root):
        write_folder(root, per_class, size=64, seed=1234)
    items = []
    for label, kind in enumerate(CLASSES):
        items += [(os.path.join(root, kind, f), label) for f in sorted(os.listdir(
            os.path.join(root, kind)))]
    return items


def split_even_odd(count: int):
    """A pool's indices in two: the even ones to draw training images from, the odd ones to test."""
    index = np.arange(count)
    return index[0::2], index[1::2]


def choose(labels: np.ndarray, pool: np.ndarray, k, seed: int) -> np.ndarray:
    """k indices of each class drawn from `pool` without replacement by `seed`, or the whole pool
    for k="full"."""
    if k == "full":
        return pool
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(pool[labels[pool] == c], size=int(k), replace=False)
                           for c in np.unique(labels)])


def as_folder(items, chosen, root: str) -> str:
    """Links the chosen (path, label) items into a fresh class-folder tree."""
    from shapes import CLASSES

    shutil.rmtree(root, ignore_errors=True)
    for index in chosen:
        path, label = items[index]
        os.makedirs(os.path.join(root, CLASSES[label]), exist_ok=True)
        os.symlink(path, os.path.join(root, CLASSES[label], os.path.basename(path)))
    return root
