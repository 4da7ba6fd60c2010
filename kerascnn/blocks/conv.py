"""Convolution blocks: convolution, optional batch normalization, optional activation.

The one place that names a convolution unit's layers, so every family spells them alike:
`{name}_conv`, `{name}_bn`, `{name}_relu` (the activation layer keeps the `_relu` suffix whatever
its function, as keras.applications does, so freezing and tapping by name stay predictable).
"""

from __future__ import annotations

import keras

from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.layers.conv import Conv2D

__all__ = ["conv_bn_act"]


def conv_bn_act(
    x,
    filters: int,
    kernel_size,
    strides=1,
    padding: str = "same",
    *,
    use_bias: bool = False,
    batch_norm: bool = True,
    activation="relu",
    groups: int = 1,
    bn_epsilon: float = 1e-3,
    bn_momentum: float = 0.99,
    bn_scale: bool = True,
    name: str,
):
    """Conv2D -> (BatchNormalization) -> (Activation), with deterministic layer names.

    Args:
        x: Input tensor `(batch, H, W, C)`.
        filters: Output channels.
        kernel_size: Int or `(kh, kw)`.
        strides: Int or `(sh, sw)` (default 1).
        padding: "same" (default) or "valid".
        use_bias: Whether the convolution has a bias (default False: batch norm's beta replaces it).
        batch_norm: Whether to add `{name}_bn` (default True).
        activation: Activation name or callable, or None for none (default "relu").
        groups: Convolution groups (default 1; AlexNet's two towers use 2).
        bn_epsilon: Batch-norm epsilon (default 1e-3, the Keras default).
        bn_momentum: Batch-norm moving-average momentum (default 0.99).
        bn_scale: Whether batch norm learns gamma (default True; keras.applications' Inception
            models use False because a ReLU follows).
        name: Prefix of the layer names.

    Returns:
        The output tensor.
    """
    x = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        groups=groups,
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = BatchNormalization(
            epsilon=bn_epsilon, momentum=bn_momentum, scale=bn_scale, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_relu")(x)
    return x
