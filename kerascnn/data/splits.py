"""Deterministic, seeded hold-out splits."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["validation_mask", "select"]


def validation_mask(
    num_examples: int, fraction: float, seed: int, labels: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the examples held out for validation: `round(fraction * n)` of them.

    With `labels`, the split is stratified (each class keeps its share), which matters for the
    small custom datasets this split is made for. The same seed always gives the same split.

    Args:
        num_examples: Number of examples n.
        fraction: Share held out, in [0, 1).
        seed: Seed of the permutation.
        labels: Optional (n,) integer labels for a per-class split.

    Returns:
        A (n,) bool array, True for validation examples.
    """
    mask = np.zeros(num_examples, dtype=bool)
    if fraction <= 0 or num_examples < 2:
        return mask
    rng = np.random.default_rng(seed)
    count = min(num_examples - 1, max(1, int(round(fraction * num_examples))))
    if labels is None:
        mask[rng.permutation(num_examples)[:count]] = True
        return mask
    labels = np.asarray(labels)
    classes, sizes = np.unique(labels, return_counts=True)
    # Largest-remainder allocation: each class gets its share and the total is exactly `count`.
    quotas = sizes * (count / num_examples)
    shares = np.floor(quotas).astype(int)
    remainders = quotas - shares + rng.random(len(classes)) * 1e-9  # seeded tie-break
    shares[np.argsort(-remainders)[: count - shares.sum()]] += 1
    for label, share in zip(classes, shares):
        members = np.flatnonzero(labels == label)
        mask[rng.permutation(members)[:share]] = True
    return mask


def select(dataset: tf.data.Dataset, mask: np.ndarray, keep: bool) -> tf.data.Dataset:
    """The elements of `dataset` whose position i has `mask[i] == keep` (in order)."""
    table = tf.constant(mask)
    return dataset.enumerate().filter(
        lambda index, *element: tf.equal(tf.gather(table, index), keep)
    ).map(lambda index, *element: element[0] if len(element) == 1 else element)
