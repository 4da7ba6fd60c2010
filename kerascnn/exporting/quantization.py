"""Images for post-training quantization and for checking an export: calibration batches drawn
from any data `kerascnn.data.load` accepts, and top-1 of the Keras model against the export.

Full-integer quantization fixes each activation's int8 range from the ranges seen on a few hundred
representative images (TensorFlow's post-training quantization guide suggests ~100-500); those
images must look like what the model will see, so they go through the same preparation as
evaluation images.
"""

from __future__ import annotations

import numpy as np

__all__ = ["REPRESENTATIVE_IMAGES", "pixels", "calibration", "top1_agreement"]

REPRESENTATIVE_IMAGES = 300


def pixels(data, input_shape, limit: int | None = None, *, labels: bool = False):
    """`uint8` images (and their labels) at the model's input size from any loadable `data`.

    A `(N, *input_shape)` numpy array of pixels is taken as is; anything else goes through
    `kerascnn.data.load(..., test_set=True)` (all of it, center-cropped to the model's size).

    Returns:
        `images` (uint8), or `(images, labels)` when `labels` is True.
    """
    if isinstance(data, np.ndarray):
        if tuple(data.shape[1:]) != tuple(input_shape):
            raise ValueError(
                f"Image arrays must have the model's input shape {tuple(input_shape)}. "
                f"Received: an array of shape {data.shape}"
            )
        images = np.clip(np.round(data[:limit]), 0, 255).astype(np.uint8)
        return (images, None) if labels else images
    from kerascnn.data import load

    bundle = load(data, input_shape=tuple(input_shape), normalization="unit", test_set=True,
                  shuffle=False, verbose=0, batch_size=64)
    split = bundle.validation
    images, targets, count = [], [], 0
    for x, y in split:
        # "unit" is x / 255: undoing it and rounding gives back the pipeline's pixel values.
        images.append(np.clip(np.round(x.numpy() * 255.0), 0, 255).astype(np.uint8))
        targets.append(y.numpy())
        count += len(images[-1])
        if limit is not None and count >= limit:
            break
    images = np.concatenate(images)[:limit]
    return (images, np.concatenate(targets)[:limit]) if labels else images


def calibration(images: np.ndarray):
    """The `representative_dataset` callable TFLiteConverter reads: one image per batch."""

    def batches():
        for image in images:
            yield [image[None]]

    return batches


def top1_agreement(expected: np.ndarray, received: np.ndarray) -> float:
    """Share of rows whose arg-max class agrees."""
    return float(np.mean(np.argmax(expected, -1) == np.argmax(received, -1)))


def top1(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy."""
    return float(np.mean(np.argmax(probabilities, -1) == np.asarray(labels)))
