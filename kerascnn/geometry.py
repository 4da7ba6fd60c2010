"""Spatial geometry of a Keras graph: walking its layers, and the smallest input it accepts.

The lengths after each layer follow from kernel sizes, strides, dilations and paddings (the
notes' (n + 2p - k) // s + 1). It sits below both the registry, which refuses inputs smaller than
an architecture's minimum, and the per-layer analysis (`kerascnn.analysis`), which reuses the
graph walk.
"""

from __future__ import annotations

from typing import Iterable

import keras

__all__ = ["leaf_layers", "parents", "minimum_spatial_size", "conv_output_length"]


def leaf_layers(model: keras.Model, prefix: str = "") -> Iterable[tuple[str, keras.layers.Layer]]:
    """Every layer of `model` that is not itself a model, with its `outer/inner` path name."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def parents(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers whose outputs feed `layer`'s first call."""
    if not layer._inbound_nodes:
        return []
    node = layer._inbound_nodes[0]
    return [t._keras_history.operation for t in node.input_tensors]


def _output_length(layer, length: int, axis: int) -> int:
    """Spatial length after `layer` along spatial `axis` (0 = height, 1 = width)."""
    if hasattr(layer, "spatial_output_length"):
        return layer.spatial_output_length(length, axis)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return length + sum(layer.padding[axis])
    if isinstance(layer, keras.layers.Cropping2D):
        return length - sum(layer.cropping[axis])
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    strides = getattr(layer, "strides", None)
    if kernel is None or strides is None or len(kernel) < 2:
        return length
    dilation = getattr(layer, "dilation_rate", (1, 1))
    effective = dilation[axis] * (kernel[axis] - 1) + 1
    if getattr(layer, "padding", "valid") == "same":
        return -(-length // strides[axis])
    return (length - effective) // strides[axis] + 1


def _fits(model: keras.Model, size: int, axis: int) -> bool:
    lengths = {}
    for _, layer in leaf_layers(model):
        inputs_of = parents(layer)
        if not inputs_of:
            lengths[id(layer)] = size
            continue
        incoming = [lengths[id(p)] for p in inputs_of if id(p) in lengths]
        if not incoming:
            continue
        if isinstance(layer, keras.layers.Add | keras.layers.Multiply | keras.layers.Concatenate):
            if len(set(incoming)) > 1:
                return False
        out = _output_length(layer, min(incoming), axis)
        if out < 1:
            return False
        lengths[id(layer)] = out
    return True


def minimum_spatial_size(model: keras.Model, limit: int = 4096) -> tuple[int, int]:
    """The smallest (height, width) for which every layer of `model` has a non-empty output.

    Computed from the kernel sizes, strides, dilations and paddings of the layers along every path
    of the graph; branches that meet in an addition or concatenation must agree in size.
    """
    result = []
    for axis in (0, 1):
        size = next((s for s in range(1, limit + 1) if _fits(model, s, axis)), None)
        if size is None:
            raise ValueError(f"No input size up to {limit} fits model {model.name!r}.")
        result.append(size)
    return tuple(result)


def conv_output_length(length: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """The notes' formula for a convolution's output length: (n + 2p - k) // s + 1."""
    return (length + 2 * padding - kernel) // stride + 1

