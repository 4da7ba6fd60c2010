"""Bad data caught before training: every check `kerascnn.data.load` runs on arrays and datasets.

A NaN pixel, a label past the last class or a list of images in mixed sizes would otherwise fail
deep inside a training step (or, on a GPU, silently turn the loss into NaN). Each check raises a
ValueError naming the argument and the offending values or positions. They stay cheap: one
vectorized pass over arrays; for a `tf.data.Dataset` its element_spec and its first elements only
(and the labels, when a counting pass reads them anyway).
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from kerascnn.validation import check_class_indices, check_finite_values, positions_text

__all__ = [
    "MAX_CLASSES",
    "class_names",
    "labels_from",
    "pixels_from",
    "check_element_spec",
    "check_first_elements",
    "reading",
]

# Larger than any classification label space in use (ImageNet-21k has 21,841 classes), small
# enough that a stray label value such as 10**9 cannot make a billion class names.
MAX_CLASSES = 1_000_000
_REAL_KINDS = "biuf"  # numpy dtype kinds of bool, signed and unsigned integers, floats


def class_names(num_found: int, num_classes: int | None, name: str) -> list[str]:
    """Names "0" ... "n-1" for `num_classes` classes, or as many as the labels show."""
    count = num_classes or num_found
    if count > MAX_CLASSES:
        raise ValueError(
            f"{name} labels imply {count} classes, more than {MAX_CLASSES}; a label that large "
            f"is most likely a mistake. Received: a largest label of {num_found - 1}"
        )
    return [str(i) for i in range(count)]


def _as_array(value, name: str, part: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as error:  # Ragged nested lists.
        raise ValueError(
            f"{name} {part} must form one rectangular array. Received: {part} numpy cannot "
            f"stack ({str(error).splitlines()[0]})"
        ) from None


def labels_from(y, name: str, num_classes: int | None = None) -> np.ndarray:
    """int32 class indices from integer labels of shape (n,) or (n, 1), or one-hot (n, classes).

    Raises:
        ValueError: For another shape or dtype, NaN or infinite values, fractions, or labels
            outside [0, num_classes), naming their positions.
    """
    y = _as_array(y, name, "labels")
    if y.dtype.kind not in _REAL_KINDS or y.ndim not in (1, 2) or (y.ndim == 2 and
                                                                   y.shape[1] == 0):
        raise ValueError(
            f"{name} labels must be integer class indices of shape (n,) or (n, 1), or one-hot "
            f"(n, classes). Received: labels of shape {y.shape} and dtype {y.dtype}"
        )
    if y.dtype.kind == "f":
        check_finite_values(y, f"{name} labels", "labels")
    if y.ndim == 2:
        y = y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)  # One-hot or probabilities.
    if y.dtype.kind == "f":
        fractions = np.flatnonzero(y != np.round(y))
        if len(fractions):
            raise ValueError(
                f"{name} labels must be whole class indices. Received: "
                f"{positions_text(fractions, len(y), 'labels', y[fractions[:5]].tolist())}"
            )
    check_class_indices(y, name, num_classes)
    if num_classes is None and len(y) and y.max() >= MAX_CLASSES:
        class_names(int(y.max()) + 1, None, name)  # Raises.
    return y.astype(np.int32)


def _check_same_shapes(x, name: str) -> None:
    """A list of images must share one shape; names the images that differ from the first."""
    shapes = []
    for index, image in enumerate(x):
        try:
            shapes.append(np.shape(image))
        except ValueError:
            raise ValueError(
                f"{name} images must be arrays of one shape. Received: image {index} is ragged"
            ) from None
    odd = [i for i, shape in enumerate(shapes) if shape != shapes[0]]
    if odd:
        raise ValueError(
            f"{name} images must all have the same shape (resize them first, or put them in a "
            f"folder, which kerascnn resizes as it reads). Received: image 0 has shape "
            f"{shapes[0]}; other shapes in "
            f"{positions_text(odd, len(shapes), 'images', [shapes[i] for i in odd[:5]])}"
        )


def pixels_from(x, name: str) -> np.ndarray:
    """Pixel values in [0, 255]: uint8 as is, uint16 divided by 257, floats in [0, 1] times 255.

    Raises:
        ValueError: For images of mixed sizes, another rank, no pixels, a non-numeric dtype, or
            NaN or infinite values, naming the examples.
    """
    if isinstance(x, (list, tuple)) and len(x):
        _check_same_shapes(x, name)
    x = _as_array(x, name, "images")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 2, 3, 4) or 0 in x.shape[1:3]:
        raise ValueError(
            f"{name} images must have shape (n, height, width) or (n, height, width, channels) "
            f"with 1 to 4 channels. Received: images of shape {x.shape}"
        )
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.uint16:
        return (x.astype(np.float32) / 257.0).astype(np.float32)
    if x.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} images must be integers or floats. Received: images of dtype {x.dtype}"
        )
    floating = x.dtype.kind == "f"
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    check_finite_values(x, f"{name} images")  # After the cast: float64 beyond float32 is inf.
    # Floats at most 1 are taken as [0, 1] (the usual `x / 255.0`), anything else as [0, 255].
    if x.size and floating and float(x.max()) <= 1.0:
        x = x * 255.0
    return x


def _spec_error(spec, what: str) -> ValueError:
    return ValueError(
        f"data as a tf.data.Dataset must yield (image, label) pairs{what}. "
        f"Received: a dataset with element_spec={spec!r}"
    )


def check_element_spec(dataset: tf.data.Dataset) -> bool:
    """Checks the structure, dtypes and ranks a dataset declares; returns whether it is batched.

    Raises:
        ValueError: For anything but (image, label) pairs of dense numeric tensors: images
            (H, W) or (H, W, C) with 1 to 4 channels, or batches of them, and labels of rank 0
            or 1 (one more when batched), one per image.
    """
    spec = dataset.element_spec
    if isinstance(spec, dict) and {"image", "label"} <= set(spec):
        raise _spec_error(spec, " (map it first: `.map(lambda d: (d['image'], d['label']))`)")
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise _spec_error(spec, "")
    if not all(type(s) is tf.TensorSpec for s in spec):
        raise _spec_error(spec, ", each one dense tensor")
    image, label = spec
    if image.dtype == tf.string:
        raise _spec_error(spec, " with decoded images (`tf.io.decode_image`), not encoded bytes")
    if not (image.dtype.is_integer or image.dtype.is_floating):
        raise _spec_error(spec, " with integer or float images")
    if not (label.dtype.is_integer or label.dtype.is_floating):
        raise _spec_error(spec, " with integer class indices or one-hot float labels")
    rank = image.shape.rank
    if rank not in (2, 3, 4):
        raise _spec_error(spec, " with images of rank 2 or 3 (or batches of rank 4)")
    # Rank 3 is one (H, W, C) image, or a batch of grey (H, W) images when its last axis cannot be
    # channels and the labels have the batch axis.
    batched = rank == 4 or (rank == 3 and image.shape[-1] is not None
                            and not 1 <= image.shape[-1] <= 4 and label.shape.rank in (1, 2)
                            and image.shape[0] == label.shape[0])
    if label.shape.rank is not None and label.shape.rank > (2 if batched else 1):
        raise _spec_error(spec, " with labels of rank 0 or 1 (one more when batched)")
    if label.shape.rank and label.shape[-1] == 0:
        raise _spec_error(spec, " with at least one label value per image")
    channels = image.shape[-1] if rank == 4 or (rank == 3 and not batched) else 1
    if channels is not None and not 1 <= channels <= 4:
        raise _spec_error(spec, " with 1 to 4 image channels")
    if batched and label.shape.rank == 0:
        raise _spec_error(spec, " with one label per image in each batch of images")
    if batched and label.shape.rank and None not in (image.shape[0], label.shape[0]) \
            and image.shape[0] != label.shape[0]:
        raise _spec_error(spec, " with as many labels as images in each batch")
    return batched


@contextlib.contextmanager
def reading(what: str):
    """Turns a TensorFlow error raised while reading a dataset into a ValueError naming data."""
    try:
        yield
    except tf.errors.OpError as error:
        raise ValueError(
            f"data as a tf.data.Dataset failed {what}. Received: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from None


def check_first_elements(dataset: tf.data.Dataset, num_classes: int | None,
                         count: int = 64) -> float:
    """Reads the first `count` (image, label) elements: finite pixels, labels in range.

    Returns:
        The largest pixel value among them (to tell [0, 1] floats from [0, 255]).
    """
    peak = -np.inf
    labels = []
    with reading("on its first elements"):
        for index, (image, label) in enumerate(dataset.take(count)):
            image = image.numpy()
            if image.dtype.kind == "f" and not np.isfinite(image).all():
                raise ValueError(
                    "data images must be finite numbers. Received: NaN or infinite values in "
                    f"the element at position {index} of the dataset"
                )
            peak = max(peak, float(image.max()) if image.size else peak)
            labels.append(int(label))
    check_class_indices(np.asarray(labels, dtype=np.int64), "data", num_classes, total=None)
    return peak
