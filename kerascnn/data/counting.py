"""How many training examples `kerascnn.data.load` would give, known before it reads any image:
what choosing a recipe by data size needs before the run starts."""

from __future__ import annotations

import os

import tensorflow as tf

from kerascnn.data.folders import resolve_layout

__all__ = ["count_training_examples"]

_DIGITS = 1797  # scikit-learn's load_digits.


def _files_under(root: str) -> int:
    return sum(len([f for f in files if not f.startswith(".")]) for _, _, files in os.walk(root))


def _tfds_count(name: str, split, data_dir) -> tuple[int | None, bool]:
    import tensorflow_datasets as tfds

    try:
        splits = tfds.builder(name, data_dir=data_dir).info.splits
        train = split[0] if isinstance(split, tuple) else split
        return splits[train or "train"].num_examples, "validation" in splits or isinstance(
            split, tuple)
    except Exception:  # noqa: BLE001 - unknown or unprepared data: the count is unknown.
        return None, False


def count_training_examples(data, *, split=None, validation_split: float = 0.1,
                            data_dir: str | None = None) -> int | None:
    """The approximate size of the training split of `data` (after the `validation_split`
    hold-out where the data has no validation split of its own), or None when it cannot be known
    without reading the data (a `tf.data.Dataset` of unknown length, unprepared tfds data).

    Folders are counted by their files, usable or not, so the count is an upper bound.
    """
    has_validation = False
    if isinstance(data, tf.data.Dataset):
        count = int(data.cardinality())
        count = count if count >= 0 else None
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        count = len(data[1]) if hasattr(data[1], "__len__") else None  # load() names the error.
    elif isinstance(data, (str, os.PathLike)) and os.path.isdir(data):
        train, validation = resolve_layout(os.fspath(data), split)
        count = _files_under(os.path.join(os.fspath(data), train or ""))
        has_validation = validation is not None
    elif data == "digits":
        count = _DIGITS
    elif isinstance(data, str):
        count, has_validation = _tfds_count(data, split, data_dir)
    else:
        count = None
    if count is None or has_validation:
        return count
    return int(round(count * (1.0 - validation_split)))
