"""The parameter-free shortcut of He et al. (2015): option A, a zero-padded identity.

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016,
section 3.3 ("the shortcut still performs identity mapping, with extra zero entries padded for
increasing dimensions") and section 4.2 (the CIFAR-10 networks, which use it throughout).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ZeroPaddedIdentity"]


@keras.saving.register_keras_serializable(package="kerascnn")
class ZeroPaddedIdentity(keras.layers.Layer):
    """Identity shortcut that subsamples by `strides` and appends zero channels up to `filters`.

    Subsampling keeps every `strides`-th pixel (a 1x1 pooling window with that stride), the form of
    the authors' Torch code (`SpatialAveragePooling(1, 1, stride, stride)` then a concatenation with
    zeros), so the output has ceil(H / strides) rows, like the strided 3x3 convolution beside it.
    No weights, no multiplications.

    Args:
        filters: Output channels; at least the input's.
        strides: Spatial subsampling factor (default 1).
        **kwargs: Base `Layer` arguments.

    Raises:
        ValueError: If `filters` or `strides` is not a positive integer, or `filters` is smaller
            than the input's channel count.
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        for value, label in ((filters, "filters"), (strides, "strides")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be an integer >= 1. Received: {label}={value!r}")
        self.filters = filters
        # `pool_size`/`strides` let the per-layer analysis follow the receptive field's jump.
        self.pool_size = (1, 1)
        self.strides = (strides, strides)
        self.padding = "valid"

    def build(self, input_shape):
        if input_shape[-1] is None or input_shape[-1] > self.filters:
            raise ValueError(
                f"ZeroPaddedIdentity pads up to filters={self.filters} channels and cannot drop "
                f"any. Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        x = inputs
        if self.strides[0] > 1:
            x = ops.average_pool(x, 1, self.strides, padding="valid")
        extra = self.filters - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def spatial_output_length(self, length: int, axis: int) -> int:
        return (length - 1) // self.strides[axis] + 1

    def compute_output_shape(self, input_shape):
        h, w = (None if d is None else (d - 1) // self.strides[0] + 1 for d in input_shape[1:3])
        return (input_shape[0], h, w, self.filters)

    def count_macs(self, input_shapes, output_shape):
        return 0

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides[0]}
