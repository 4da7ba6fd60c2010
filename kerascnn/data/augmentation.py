"""Augmentation policies: lists of tf ops applied to training images inside the tf.data pipeline."""

from __future__ import annotations

import tensorflow as tf

from kerascnn.data.transforms import center_crop

__all__ = ["Policy", "POLICIES", "get_policy"]

POLICIES = {
    "none": [],
    "flip": [("flip", {})],
    "cifar": [("pad_crop", {"padding": 4}), ("flip", {})],
}


def _flip(image, seed, size, **_):
    return tf.image.stateless_random_flip_left_right(image, seed)


def _pad_crop(image, seed, size, padding=4, **_):
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


OPS = {"flip": _flip, "pad_crop": _pad_crop}


class Policy:
    """An ordered list of augmentation ops (name, params)."""

    def __init__(self, ops=(), name=None):
        self.ops = [(op, dict(params)) for op, params in ops]
        self.name = name
        self.resize_scale = 1.0

    @property
    def is_random(self):
        return bool(self.ops)

    def fit(self, dataset, verbose=1):
        return self

    def apply(self, image, seed, size):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), max(1, len(self.ops)))
        for index, (op, params) in enumerate(self.ops):
            image = OPS[op](image, seeds[index], size, **params)
        if image.shape[:2] != tuple(size):
            image = center_crop(image, size)
        return image


def get_policy(augmentation):
    if augmentation is None:
        return Policy([], name="none")
    if isinstance(augmentation, Policy):
        return augmentation
    if isinstance(augmentation, str) and augmentation in POLICIES:
        return Policy(POLICIES[augmentation], name=augmentation)
    raise ValueError(f"Unknown augmentation. Received: augmentation={augmentation!r}")
