"""The ShuffleNet units: v1's (pointwise group convolution + channel shuffle) and v2's (channel
split + channel shuffle).

v1: Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
Devices", CVPR 2018, section 3.2 and Figure 2(b, c). v2: Ma et al., "ShuffleNet V2: Practical
Guidelines for Efficient CNN Architecture Design", ECCV 2018, section 4 and Figure 3(c, d).

Strided 3x3 layers pad one pixel on every side (explicit `ZeroPadding2D`), as the authors' code
and torchvision do, so that feature maps line up with theirs on any input size.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.conv import conv_bn_act
from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.layers.channel_shuffle import ChannelShuffle, ChannelSplit

__all__ = ["depthwise_bn", "shufflenet_unit", "shufflenet_v2_unit"]


def _padded(x, strides: int, name: str):
    if strides == 1:
        return x, "same"
    return keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x), "valid"


def depthwise_bn(x, strides: int, bn_epsilon: float, name: str):
    """3x3 depthwise convolution and batch norm, no activation (both papers keep it linear)."""
    x, padding = _padded(x, strides, name)
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding=padding, use_bias=False,
                                     name=f"{name}_conv")(x)
    return BatchNormalization(epsilon=bn_epsilon, name=f"{name}_bn")(x)


def shufflenet_unit(
    x,
    filters: int,
    *,
    groups: int,
    strides: int = 1,
    group_first: bool = True,
    bottleneck_ratio: int = 4,
    bn_epsilon: float = 1e-5,
    name: str,
):
    """A ShuffleNet (v1) unit, Figure 2(b) with stride 1 and 2(c) with stride 2.

    1x1 group convolution (BN-ReLU) -> channel shuffle -> 3x3 depthwise convolution (BN) -> 1x1
    group convolution (BN). With stride 1 the input is added and a ReLU follows; with stride 2 the
    shortcut is 3x3/2 average pooling (zero padded, padding counted, as the official code), the
    branch makes `filters - C_in` maps, and the two are concatenated before the ReLU.

    Args:
        x: Input tensor with C_in channels.
        filters: Output channels of the unit.
        groups: g, the groups of the pointwise convolutions.
        strides: 1 or 2.
        group_first: Whether the first pointwise convolution is grouped; the paper does not group
            it in the first unit of Stage 2, whose input has only 24 channels.
        bottleneck_ratio: Bottleneck channels are `filters // bottleneck_ratio` (4 in the paper).
        bn_epsilon: Batch-norm epsilon.
        name: Prefix, `stage2_unit1`: `{name}_gconv1_*`, `{name}_shuffle`, `{name}_dw_*`,
            `{name}_gconv2_*`, `{name}_shortcut_*`, `{name}_add` or `{name}_concat`, `{name}_relu`.

    Returns:
        The unit's output tensor.
    """
    in_channels = x.shape[-1]
    branch_filters = filters - in_channels if strides != 1 else filters
    y = conv_bn_act(x, filters // bottleneck_ratio, 1, groups=groups if group_first else 1,
                    bn_epsilon=bn_epsilon, name=f"{name}_gconv1")
    if groups > 1:
        y = ChannelShuffle(groups, name=f"{name}_shuffle")(y)
    y = depthwise_bn(y, strides, bn_epsilon, f"{name}_dw")
    y = conv_bn_act(y, branch_filters, 1, groups=groups, activation=None, bn_epsilon=bn_epsilon,
                    name=f"{name}_gconv2")
    if strides == 1:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    else:
        shortcut = keras.layers.ZeroPadding2D(1, name=f"{name}_shortcut_pad")(x)
        shortcut = keras.layers.AveragePooling2D(3, strides=strides,
                                                 name=f"{name}_shortcut_pool")(shortcut)
        y = keras.layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_relu")(y)


def shufflenet_v2_unit(
    x,
    filters: int,
    *,
    strides: int = 1,
    left_filters: int | None = None,
    bn_epsilon: float = 1e-5,
    name: str,
):
    """A ShuffleNet v2 unit, Figure 3(c) with stride 1 and 3(d) with stride 2.

    Stride 1: the channels are split in half; the first half passes unchanged, the second goes
    through 1x1 conv (BN-ReLU) -> 3x3 depthwise (BN) -> 1x1 conv (BN-ReLU); the halves are
    concatenated and shuffled with two groups. Stride 2: no split; the left branch is 3x3/2
    depthwise (BN) -> 1x1 conv (BN-ReLU), the right one is the branch above with stride 2, so the
    channels double.

    Args:
        x: Input tensor.
        filters: Output channels (each branch makes half).
        strides: 1 or 2.
        left_filters: With stride 2, the maps of the left branch (default `filters // 2`, as
            torchvision); the right branch makes the rest. The authors' code keeps the input's
            channel count on the left, which differs only where the input is not `filters // 2`
            wide (the first unit of Stage 2).
        bn_epsilon: Batch-norm epsilon.
        name: Prefix: `{name}_split`, `{name}_branch1_*`, `{name}_branch2_*`, `{name}_concat`,
            `{name}_shuffle`.

    Returns:
        The unit's output tensor.
    """
    branch_filters = filters // 2
    left_filters = left_filters or branch_filters
    if strides == 1:
        left, right = ChannelSplit(2, name=f"{name}_split")(x)
        left_filters = branch_filters
    else:
        left = depthwise_bn(x, strides, bn_epsilon, f"{name}_branch1_dw")
        left = conv_bn_act(left, left_filters, 1, bn_epsilon=bn_epsilon, name=f"{name}_branch1_pw")
        right = x
    right = conv_bn_act(right, branch_filters, 1, bn_epsilon=bn_epsilon, name=f"{name}_branch2_pw1")
    right = depthwise_bn(right, strides, bn_epsilon, f"{name}_branch2_dw")
    right = conv_bn_act(right, filters - left_filters, 1, bn_epsilon=bn_epsilon,
                        name=f"{name}_branch2_pw2")
    y = keras.layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(y)
