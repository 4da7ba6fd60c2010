"""Every argument check in one place, with one message style: "... Received: arg=value".

Checks run before any long work (building, loading, training) starts.
"""

from __future__ import annotations

import math
import os
from typing import Any

import keras
import numpy as np

__all__ = [
    "COMMON_ARGUMENTS",
    "validate_common_arguments",
    "check_minimum_size",
    "check_positive_int",
    "check_choice",
    "check_fraction",
    "check_number",
    "check_bool",
    "positions_text",
    "check_finite_values",
    "check_class_indices",
]

COMMON_ARGUMENTS = (
    "num_classes",
    "input_shape",
    "include_top",
    "pooling",
    "classifier_activation",
    "weights",
)
POOLING_CHOICES = (None, "avg", "max")


def check_positive_int(value: Any, name: str, minimum: int = 1,
                       maximum: int | None = None) -> int:
    """Returns `value` if it is an int >= `minimum` (and <= `maximum`), else raises a ValueError
    naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}. Received: {name}={value!r}")
    return value


def check_fraction(value: Any, name: str, *, inclusive_high: bool = False) -> float:
    """Returns `value` if it lies in [0, 1) (or [0, 1] when `inclusive_high`), else raises."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and 0.0 <= value and (value <= 1.0 if inclusive_high else value < 1.0)
    if not ok:
        bound = "1]" if inclusive_high else "1)"
        raise ValueError(f"{name} must be a number in [0, {bound}. Received: {name}={value!r}")
    return float(value)


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    include_low: bool = True,
    include_high: bool = True,
) -> float:
    """Returns `value` as a float if it is a finite real number within the given bounds, else
    raises (an infinite width or scale would only fail later, converting it to a layer size)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (isinstance(value, int) or math.isfinite(value))
    if ok and low is not None:
        ok = value >= low if include_low else value > low
    if ok and high is not None:
        ok = value <= high if include_high else value < high
    if not ok:
        left = "(-inf" if low is None else ("[" if include_low else "(") + f"{low:g}"
        right = "inf)" if high is None else f"{high:g}" + ("]" if include_high else ")")
        raise ValueError(
            f"{name} must be a finite number in {left}, {right}. Received: {name}={value!r}")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    """Returns `value` if it is True or False (not merely truthy), else raises."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False. Received: {name}={value!r}")
    return value


def check_choice(value: Any, name: str, choices: tuple) -> Any:
    """Returns `value` if it is one of `choices`, else raises a ValueError listing them."""
    try:
        known = value in choices
    except (ValueError, TypeError):  # numpy arrays compare element-wise, with no one truth value
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def _check_input_shape(input_shape: Any, default: tuple) -> tuple:
    if input_shape is None:
        return tuple(default)
    rank = len(default)
    # Flat-input models (perceptron, MLP) also take images, which they flatten.
    ranks = (rank,) if rank == 3 else (1, 2, 3)
    valid = isinstance(input_shape, (tuple, list)) and len(input_shape) in ranks
    valid = valid and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape
    )
    if not valid:
        layout = "3 positive integers (height, width, channels)" if rank == 3 else (
            "1 to 3 positive integers, (features,) or (height, width, channels)"
        )
        raise ValueError(
            f"input_shape must be a tuple of {layout}. "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(input_shape)


def _check_classifier_activation(activation: Any) -> Any:
    if activation is None or callable(activation):
        return activation
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            "classifier_activation must be None, a callable, or the name of a Keras activation "
            f"('softmax', 'sigmoid', 'linear' ...). Received: classifier_activation={activation!r}"
        ) from None
    return activation


# Weight files `weights=` takes: Keras files, PyTorch and safetensors state dicts, Caffe models.
WEIGHT_FILE_SUFFIXES = (".h5", ".keras", ".pth", ".pt", ".safetensors", ".caffemodel")


def _check_weights(weights: Any, available: tuple, model_name: str) -> Any:
    if weights is None:
        return None
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise ValueError(
            "weights must be None, the name of a weight source, or the path of a weights file. "
            f"Received: weights={weights!r}"
        )
    if weights in available:
        return weights
    if os.path.sep in weights or weights.endswith(WEIGHT_FILE_SUFFIXES):
        if not os.path.isfile(weights):
            raise ValueError(f"weights file does not exist. Received: weights={weights!r}")
        return weights
    names = ", ".join(repr(w) for w in available) if available else "none"
    raise ValueError(
        f"weights must be None, a weights file path, or one of the sources {model_name!r} has "
        f"({names}). Received: weights={weights!r}"
    )


def validate_common_arguments(
    entry: Any,
    *,
    num_classes: Any = 1000,
    input_shape: Any = None,
    include_top: Any = True,
    pooling: Any = None,
    classifier_activation: Any = "softmax",
    weights: Any = None,
) -> dict:
    """Checks the arguments every builder shares and returns them normalized.

    Args:
        entry: The `registry.ModelEntry` being built (for its default input shape and weights).
        num_classes: Number of output classes, >= 1.
        input_shape: `(H, W, C)` (or `(D,)` for flat models); None for the paper's shape.
        include_top: Whether to build the classifier head.
        pooling: None, "avg" or "max": global pooling when `include_top=False`.
        classifier_activation: Activation of the predictions layer, or None for logits.
        weights: None, a weight source name, or a weights file path.

    Raises:
        ValueError: Naming the first invalid argument and the value received.
    """
    check_positive_int(num_classes, "num_classes")
    if not isinstance(include_top, bool):
        raise ValueError(f"include_top must be True or False. Received: include_top={include_top!r}")
    check_choice(pooling, "pooling", POOLING_CHOICES)
    return {
        "num_classes": num_classes,
        "input_shape": _check_input_shape(input_shape, entry.default_input_shape),
        "include_top": include_top,
        "pooling": pooling,
        "classifier_activation": _check_classifier_activation(classifier_activation),
        "weights": _check_weights(weights, entry.weights, entry.name),
    }


def check_minimum_size(input_shape: tuple, minimum: tuple[int, int], model_name: str) -> None:
    """Raises if the spatial part of `input_shape` is below the architecture's `minimum` (H, W)."""
    height, width = input_shape[:2]
    if height < minimum[0] or width < minimum[1]:
        raise ValueError(
            f"input_shape is too small for {model_name!r}: its strides and kernels need at least "
            f"{minimum[0]}x{minimum[1]} pixels. Received: input_shape={tuple(input_shape)!r}"
        )


def positions_text(positions, total: int | None, what: str = "examples", values=None,
                   limit: int = 5) -> str:
    """Names the first offending positions: "3 of 100 examples, at positions 4, 17, 20".

    Args:
        positions: Indices of the offending elements, in order.
        total: Number of elements checked, or None when unknown (a dataset read in part).
        what: What the elements are, plural ("examples", "labels").
        values: Optional values at the first positions, shown as "value at position".
        limit: How many positions to name.
    """
    positions = [int(i) for i in np.asarray(positions).reshape(-1)]
    if values is not None:
        shown = [f"{values[k]!r} (at position {index})" for k, index in
                 enumerate(positions[:limit])]
        where = ": " + ", ".join(shown)
    else:
        shown = [str(index) for index in positions[:limit]]
        where = f", at position{'s' if len(positions) > 1 else ''} " + ", ".join(shown)
    more = ", ..." if len(positions) > limit else ""
    count = f"{len(positions)} of {total}" if total is not None else str(len(positions))
    noun = what[:-1] if len(positions) == 1 and total is None and what.endswith("s") else what
    return f"{count} {noun}{where}{more}"


def check_finite_values(array: np.ndarray, name: str, what: str = "examples") -> None:
    """Raises if a float array holds NaN or infinite values, naming the first examples that do.

    One float64 reduction on the way in (a NaN or an infinity makes the sum non-finite, and
    float32 values cannot overflow it); positions are only computed when something is wrong.
    """
    if array.dtype.kind not in "fc" or array.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None, dtype=np.float64)):
            return
    flat = array.reshape(len(array), -1) if array.ndim > 1 else array.reshape(-1, 1)
    bad = np.flatnonzero(~np.isfinite(flat).all(axis=1))
    raise ValueError(
        f"{name} must be finite numbers. Received: NaN or infinite values in "
        f"{positions_text(bad, len(array), what)}"
    )


def check_class_indices(labels: np.ndarray, name: str, num_classes: int | None, *,
                        offset: int = 0, total: int | None = -1) -> None:
    """Raises unless every label lies in [0, num_classes) ([0, inf) when num_classes is None),
    naming the first offending labels and their positions.

    Args:
        labels: Numeric labels (n,).
        name: The argument the labels came in ("data").
        num_classes: The number of classes, or None for no upper bound.
        offset: Position of `labels[0]` in the whole data (for labels read in batches).
        total: Number of labels in the whole data; -1 for `len(labels)`, None when unknown.
    """
    if labels.size == 0:
        return
    if labels.min() >= 0 and (num_classes is None or labels.max() < num_classes):
        return
    bad = labels < 0
    if num_classes is not None:
        bad |= labels >= num_classes
    positions = np.flatnonzero(bad)
    values = [int(v) if float(v).is_integer() else float(v) for v in labels[positions[:5]]]
    where = positions_text(positions + offset, len(labels) if total == -1 else total, "labels",
                           values)
    if num_classes is None:
        raise ValueError(f"{name} labels must be class indices >= 0. Received: {where}")
    raise ValueError(
        f"{name} labels must be class indices in [0, num_classes). "
        f"Received: num_classes={num_classes} and {where}"
    )
