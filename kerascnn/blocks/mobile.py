"""MobileNet's depthwise separable convolution block.

A. G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv:1704.04861, 2017, section 3.1 and Figure 3: a 3x3 depthwise convolution
(one filter per input channel) with BN-ReLU, then a 1x1 pointwise convolution with BN-ReLU.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.conv import conv_bn_act
from kerascnn.layers.batch_norm import BatchNormalization

__all__ = ["depthwise_separable"]


def depthwise_separable(
    x,
    filters: int,
    *,
    strides: int = 1,
    depth_multiplier: int = 1,
    activation="relu6",
    bn_epsilon: float = 1e-3,
    padding: str = "same",
    name: str,
):
    """Depthwise 3x3 convolution -> BN -> activation -> pointwise 1x1 -> BN -> activation.

    A stride-2 depthwise convolution is preceded by zero padding of one row and one column at the
    bottom and right, then runs unpadded: keras.applications' MobileNet does this, and on even
    sizes it equals the "SAME" padding of the TF-slim original.

    Args:
        x: Input tensor `(batch, H, W, C)`.
        filters: Pointwise filters.
        strides: Stride of the depthwise convolution, 1 or 2.
        depth_multiplier: Depthwise outputs per input channel (default 1).
        activation: Activation after each batch norm ("relu6" default, "relu" as the paper writes).
        bn_epsilon: Batch-norm epsilon.
        padding: Padding of a stride-2 depthwise convolution: "same" (default, bottom and right,
            as above) or "symmetric" (one pixel on every side, as PyTorch implementations such
            as timm's pad).
        name: Prefix: `{name}_pad`, `{name}_dw_conv`, `{name}_dw_bn`, `{name}_dw_relu`,
            `{name}_pw_conv`, `{name}_pw_bn`, `{name}_pw_relu`.

    Returns:
        The block's output tensor.
    """
    conv_padding = "same"
    if strides != 1:
        pad = 1 if padding == "symmetric" else ((0, 1), (0, 1))
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        conv_padding = "valid"
    x = keras.layers.DepthwiseConv2D(
        3, strides=strides, padding=conv_padding, depth_multiplier=depth_multiplier, use_bias=False,
        name=f"{name}_dw_conv",
    )(x)
    x = BatchNormalization(epsilon=bn_epsilon, name=f"{name}_dw_bn")(x)
    x = keras.layers.Activation(activation, name=f"{name}_dw_relu")(x)
    return conv_bn_act(x, filters, 1, activation=activation, bn_epsilon=bn_epsilon,
                       name=f"{name}_pw")
