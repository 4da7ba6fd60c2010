"""Residual scaling, as the Inception-ResNet networks use it.

C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017, section 3.3 and figure 20.
"""

from __future__ import annotations

import keras

__all__ = ["ScaledResidual"]


@keras.saving.register_keras_serializable(package="kerascnn")
class ScaledResidual(keras.layers.Layer):
    """Adds a scaled residual to its shortcut: `shortcut + scale * residual`.

    The paper found that networks with more than about 1000 filters "died" early in training
    unless the residuals were scaled down (by 0.1 to 0.3) before the addition. The layer computes
    what keras.applications' `CustomScaleLayer` computes, so Inception-ResNet-v2 weights carry over.

    Args:
        scale: The residual's factor (default 1.0).

    Call arguments:
        inputs: `[shortcut, residual]`, two tensors of the same shape.
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise ValueError(f"scale must be a number. Received: scale={scale!r}")
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
