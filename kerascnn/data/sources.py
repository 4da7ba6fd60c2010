"""In-memory sources: scikit-learn's digits, numpy arrays and `tf.data.Dataset`s.

Every source yields unbatched `(image, label)` pairs with pixel values in [0, 255] (uint8 or
float32) and int32 labels, plus the class names and the number of examples per split.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kerascnn.data.checks import (
    MAX_CLASSES,
    check_element_spec,
    check_first_elements,
    class_names,
    labels_from,
    pixels_from,
    reading,
)
from kerascnn.data.splits import select, validation_mask
from kerascnn.validation import check_class_indices

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


def array_source(
    data, validation_split: float, seed: int, num_classes: int | None, name: str = "data"
) -> Source:
    """An `(x, y)` pair of numpy arrays, with a stratified seeded validation split."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(
            f"{name} as arrays must be an (x, y) pair. Received: {type(data).__name__}"
        )
    x, y = data
    images = pixels_from(x, name)
    labels = labels_from(y, name, num_classes)
    if len(images) != len(labels):
        raise ValueError(
            f"{name} images and labels differ in length. Received: {len(images)} images and "
            f"{len(labels)} labels"
        )
    if len(images) == 0:
        raise ValueError(f"{name} has no examples. Received: 0 images")
    names = class_names(int(labels.max()) + 1, num_classes, name)
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
        class_names=names,
        image_shape=tuple(images.shape[1:]),
        in_memory=True,
        validation_from="hold-out" if validation is not None else "",
    )


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
    if check_element_spec(dataset):
        dataset = dataset.unbatch()
    dataset = dataset.map(_standardize)
    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("data as a tf.data.Dataset must be finite. Received: a dataset of "
                         "infinite cardinality (one that repeats without end)")
    max_label = -1
    if count < 0 or num_classes is None:  # Unknown length or class count: one pass over labels.
        count = 0
        with reading("while its labels were counted"):
            for _, label in dataset.map(lambda image, label: ((), label)).batch(4096):
                label = label.numpy()
                check_class_indices(label, "data", num_classes, offset=count, total=None)
                count += len(label)
                max_label = max(max_label, int(label.max()))
                if max_label >= MAX_CLASSES and num_classes is None:
                    class_names(max_label + 1, None, "data")  # Raises before reading on.
    if count == 0:
        raise ValueError("data as a tf.data.Dataset is empty. Received: a dataset with 0 elements")
    names = class_names(max_label + 1, num_classes, "data")
    peak = check_first_elements(dataset, num_classes)
    if dataset.element_spec[0].dtype.is_floating and peak <= 1.0:
        dataset = dataset.map(lambda image, label: (image * 255.0, label))
    mask = validation_mask(count, validation_split, seed)
    shape = dataset.element_spec[0].shape
    return Source(
        train=select(dataset, mask, False),
        validation=select(dataset, mask, True) if mask.any() else None,
        train_examples=int((~mask).sum()),
        validation_examples=int(mask.sum()),
        class_names=names,
        image_shape=tuple(shape) if shape.is_fully_defined() else None,
        validation_from="hold-out" if mask.any() else "",
    )
