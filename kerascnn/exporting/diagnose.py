"""Which layer a converter cannot take: each distinct layer class converted alone.

Converters report the operation that failed (`ScaleAndTranslate`, `Erf` ...), not the Keras layer
that produced it. When a whole model fails, converting one instance of each layer class on its own
inputs finds the layer to name in the error, at the cost of one small conversion per class and
only on the failure path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import keras

__all__ = ["ConversionError", "failing_layer", "raise_naming_layer"]


class ConversionError(ValueError):
    """A model (or one of its layers) that a converter cannot express in the target format."""


def _layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model) and hasattr(layer, "layers"):
            yield from _layers(layer)
        else:
            yield layer


def _alone(layer: keras.layers.Layer) -> keras.Model:
    def placeholder(tensor):
        return keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype)

    import numpy as np

    inputs = keras.tree.map_structure(placeholder, layer.input)
    probe = keras.Model(inputs, layer(inputs), name=f"probe_{layer.name}")
    # Exporters refuse a model never called (Keras's ONNX export checks it).
    probe(keras.tree.map_structure(lambda t: np.zeros((1, *t.shape[1:]), t.dtype), inputs))
    return probe


def failing_layer(model: keras.Model, convert: Callable[[keras.Model, str], None],
                  suffix: str) -> tuple[keras.layers.Layer, BaseException] | None:
    """The first layer (one per class, in graph order) that `convert(model, path)` fails on."""
    seen = set()
    with tempfile.TemporaryDirectory() as directory:
        for layer in _layers(model):
            if type(layer) in seen:
                continue
            seen.add(type(layer))
            try:
                probe = _alone(layer)
            except Exception:  # noqa: BLE001  (a layer that cannot stand alone is not the culprit)
                continue
            try:
                convert(probe, os.path.join(directory, f"probe{suffix}"))
            except Exception as error:  # noqa: BLE001  (any converter failure names the layer)
                return layer, error
    return None


def raise_naming_layer(error: BaseException, model: keras.Model, target: str,
                       convert: Callable[[keras.Model, str], None], suffix: str):
    """Re-raises a conversion failure as a `ConversionError` naming the layer responsible."""
    found = failing_layer(model, convert, suffix)
    detail = str(error).strip().splitlines()
    detail = detail[-1] if detail else type(error).__name__
    if found is None:
        raise ConversionError(
            f"{model.name} does not convert to {target}: {detail[:500]}"
        ) from error
    layer, layer_error = found
    lines = str(layer_error).strip().splitlines()
    reason = lines[-1] if lines else type(layer_error).__name__
    raise ConversionError(
        f"Layer {layer.name!r} ({type(layer).__name__}) of {model.name} does not convert to "
        f"{target}: {reason[:500]}"
    ) from error
