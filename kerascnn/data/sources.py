"""In-memory sources: scikit-learn's digits, numpy arrays and `tf.data.Dataset`s.

Every source yields unbatched `(image, label)` pairs with pixel values in [0, 255] (uint8 or
float32) and int32 labels, plus the class names and the number of examples per split.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kerascnn.data.splits import select, validation_mask

__all__ = ["Source", "digits_source", "array_source", "dataset_source"]


@dataclasses.dataclass
class Source:
    """Raw splits of a dataset before resizing, augmentation and batching."""

    train: tf.data.Dataset | None
    validation: tf.data.Dataset | None
    train_examples: int
    validation_examples: int
    class_names: list[str]
    image_shape: tuple | None = None  # (H, W, C) when every image has it, else None.
    in_memory: bool = False
    # Where `validation` came from: "hold-out" (a seeded `validation_split` share of the
    # training data), "split" (the data's own validation split, or the one `split` named),
    # "all" (every example, for a separate test set), or "" without one.
    validation_from: str = ""


def _class_names(num_found: int, num_classes: int | None) -> list[str]:
    if num_classes is not None and num_classes < num_found:
        raise ValueError(
            f"num_classes is smaller than the number of classes in the labels ({num_found}). "
            f"Received: num_classes={num_classes}"
        )
    return [str(i) for i in range(num_classes or num_found)]


def digits_source(validation_split: float, seed: int, num_classes: int | None) -> Source:
    """scikit-learn's 1,797 real 8x8 handwritten digits (UCI optdigits test set), 17 grey levels.

    Pixel values 0..16 are scaled to 0..255; class names are "0" ... "9".
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) * (255.0 / 16.0))[..., None]
    return array_source(
        (images, digits.target), validation_split, seed, num_classes, name="digits"
    )


def _labels_from(y, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # One-hot or probabilities.
        y = y.argmax(axis=1)
    y = y.reshape(len(y)) if y.ndim == 2 else y
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise ValueError(
            f"{name} labels must be integer class indices of shape (n,) or (n, 1), or one-hot "
            f"(n, classes). Received: labels of shape {y.shape} and dtype {y.dtype}"
        )
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise ValueError(f"{name} labels must be >= 0. Received: a label {int(y.min())}")
    return y.astype(np.int32)


def _pixels_from(x, name: str) -> np.ndarray:
    """Pixel values in [0, 255]: uint8 as is, uint16 divided by 257, floats in [0, 1] times 255."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(
            f"{name} images must have shape (n, height, width) or (n, height, width, channels) "
            f"with 1 to 4 channels. Received: images of shape {x.shape}"
        )
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.uint16:
        return (x.astype(np.float32) / 257.0).astype(np.float32)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} images must be numeric. Received: dtype {x.dtype}")
    x = x.astype(np.float32)
    # Floats at most 1 are taken as [0, 1] (the usual `x / 255.0`), anything else as [0, 255].
    if x.size and np.issubdtype(np.asarray(x).dtype, np.floating) and float(x.max()) <= 1.0:
        x = x * 255.0
    return x


def array_source(
    data, validation_split: float, seed: int, num_classes: int | None, name: str = "data"
) -> Source:
    """An `(x, y)` pair of numpy arrays, with a stratified seeded validation split."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(
            f"{name} as arrays must be an (x, y) pair. Received: {type(data).__name__}"
        )
    x, y = data
    labels = _labels_from(y, name)
    images = _pixels_from(x, name)
    if len(images) != len(labels):
        raise ValueError(
            f"{name} images and labels differ in length. Received: {len(images)} images and "
            f"{len(labels)} labels"
        )
    if len(images) == 0:
        raise ValueError(f"{name} has no examples. Received: 0 images")
    class_names = _class_names(int(labels.max()) + 1, num_classes)
    mask = validation_mask(len(labels), validation_split, seed, labels)
    validation = None
    if mask.any():
        validation = tf.data.Dataset.from_tensor_slices((images[mask], labels[mask]))
    # Training examples in a seeded random order: class-sorted arrays would otherwise bias
    # statistics taken from the first images (PCA lighting) and short shuffle buffers.
    order = np.random.default_rng(seed).permutation(np.flatnonzero(~mask))
    return Source(
        train=tf.data.Dataset.from_tensor_slices((images[order], labels[order])),
        validation=validation,
        train_examples=int((~mask).sum()),
        validation_examples=int(mask.sum()),
        class_names=class_names,
        image_shape=tuple(images.shape[1:]),
        in_memory=True,
        validation_from="hold-out" if validation is not None else "",
    )


def _unbatch_if_batched(dataset: tf.data.Dataset) -> tf.data.Dataset:
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "data as a tf.data.Dataset must yield (image, label) pairs. "
            f"Received: a dataset with element_spec={spec!r}"
        )
    rank = spec[0].shape.rank
    if rank == 4:
        return dataset.unbatch()
    if rank not in (2, 3):
        raise ValueError(
            "data as a tf.data.Dataset must yield images of rank 2 or 3 (or batches of rank 4). "
            f"Received: element_spec={spec!r}"
        )
    return dataset


def _standardize(image, label):
    image = image[..., None] if image.shape.rank == 2 else image
    label = tf.reshape(label, [-1])
    # One-hot labels become class indices; scalar (or (1,)) labels pass through.
    label = tf.cond(
        tf.size(label) > 1, lambda: tf.argmax(label, output_type=tf.int64),
        lambda: tf.cast(label[0], tf.int64),
    )
    return image, tf.cast(label, tf.int32)


def dataset_source(
    dataset: tf.data.Dataset, validation_split: float, seed: int, num_classes: int | None
) -> Source:
    """A `tf.data.Dataset` of (image, label), batched or not; one counting pass when needed.

    Float images are read as [0, 1] when the first elements are all <= 1, else as [0, 255].
    """
    dataset = _unbatch_if_batched(dataset).map(_standardize)
    count = int(dataset.cardinality())
    max_label = -1
    if count < 0 or num_classes is None:  # Unknown length or class count: one pass over labels.
        count, max_label = 0, -1
        for _, label in dataset.map(lambda image, label: ((), label)).batch(4096):
            count += int(label.shape[0])
            max_label = max(max_label, int(tf.reduce_max(label)))
    if count == 0:
        raise ValueError("data as a tf.data.Dataset is empty. Received: a dataset with 0 elements")
    class_names = _class_names(max_label + 1, num_classes)
    if dataset.element_spec[0].dtype.is_floating:
        peak = max(float(tf.reduce_max(image)) for image, _ in dataset.take(64))
        if peak <= 1.0:
            dataset = dataset.map(lambda image, label: (image * 255.0, label))
    mask = validation_mask(count, validation_split, seed)
    shape = dataset.element_spec[0].shape
    return Source(
        train=select(dataset, mask, False),
        validation=select(dataset, mask, True) if mask.any() else None,
        train_examples=int((~mask).sum()),
        validation_examples=int(mask.sum()),
        class_names=class_names,
        image_shape=tuple(shape) if shape.is_fully_defined() else None,
        validation_from="hold-out" if mask.any() else "",
    )
