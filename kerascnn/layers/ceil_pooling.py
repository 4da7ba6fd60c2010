"""Pooling rounded up, as Caffe and cuda-convnet pool: the output length is ceil((n - k) / s) + 1.

Keras pools with "valid" (rounding down) or "same" (ceil(n / s), padding split around the map),
neither of which is Caffe's on every size; Zeiler & Fergus's 110 -> 55 and 26 -> 13 and the
Network in Network definitions' 54 -> 27 -> 13 -> 6 need it.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["CeilModePooling2D"]


@keras.saving.register_keras_serializable(package="kerascnn")
class CeilModePooling2D(keras.layers.Layer):
    """Max or average pooling whose last window may run past the map's end, as Caffe's does.

    ceil((n - k) / s) + 1 equals floor((n + s - 1 - k) / s) + 1: a valid pooling of the map padded
    by s - 1 at its end. The padding never wins a maximum, and an average divides by the values
    inside the map only (Caffe clips such a window to the map).

    Args:
        pool_type: "max" (default) or "avg".
        pool_size: Square window (default 3).
        strides: Square stride (default 2).
    """

    def __init__(self, pool_type: str = "max", pool_size: int = 3, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        if pool_type not in ("max", "avg"):
            raise ValueError(f"pool_type must be one of ['max', 'avg']. Received: "
                             f"pool_type={pool_type!r}")
        self.pool_type = pool_type
        self.pool_size = (pool_size, pool_size)
        self.strides = (strides, strides)
        self.padding = "valid"

    def _pad(self, x, value):
        end = self.strides[0] - 1
        return ops.pad(x, [[0, 0], [0, end], [0, end], [0, 0]], constant_values=value)

    def call(self, inputs):
        if self.pool_type == "max":
            padded = self._pad(inputs, float("-inf"))
            return ops.max_pool(padded, self.pool_size, self.strides, "valid")
        sums = ops.average_pool(self._pad(inputs, 0.0), self.pool_size, self.strides, "valid")
        inside = self._pad(ops.ones_like(inputs[..., :1]), 0.0)
        return sums / ops.average_pool(inside, self.pool_size, self.strides, "valid")

    def spatial_output_length(self, length: int, axis: int) -> int:
        return -(-(length - self.pool_size[axis]) // self.strides[axis]) + 1

    def compute_output_shape(self, input_shape):
        h, w = (None if d is None else self.spatial_output_length(d, axis)
                for axis, d in enumerate(input_shape[1:3]))
        return (input_shape[0], h, w, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pool_type": self.pool_type,
                "pool_size": self.pool_size[0], "strides": self.strides[0]}
