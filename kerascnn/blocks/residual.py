"""Residual blocks of He et al. (2015): basic and bottleneck, with shortcut options A, B and C.

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016:
the basic block (two 3x3 convolutions, figure 5 left), the bottleneck block (1x1, 3x3, 1x1,
figure 5 right), batch norm after every convolution and ReLU after the addition (section 3.4),
and the shortcut options of section 3.3 / Table 3. Grouped bottlenecks (ResNeXt, Xie et al.
2017) and wide bottlenecks (Zagoruyko & Komodakis 2016) are the same block with another inner
width. Stochastic depth (Huang et al. 2016) drops the residual branch before the addition.

Layer names follow keras.applications (`conv3_block2_1_conv`, `_0_conv` for the projection,
`_add`, `_out`), so its weights files map onto these blocks by name.
"""

from __future__ import annotations

import keras

from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.shortcut import ZeroPaddedIdentity
from kerascnn.layers.stochastic_depth import StochasticDepth

__all__ = [
    "BN_EPSILON",
    "BN_MOMENTUM",
    "he_normal",
    "conv_bn",
    "shortcut",
    "merge",
    "basic_block",
    "bottleneck_block",
    "SHORTCUT_OPTIONS",
]

# keras.applications' value (cuDNN requires at least 1e-5); its ResNet weights were fit with it.
BN_EPSILON = 1.001e-5
# Torch and Caffe update the running statistics by 0.1 per step, Keras' momentum 0.9.
BN_MOMENTUM = 0.9

# "A": zero-padded identity when the shape changes; "B": projection when it changes, identity
# otherwise; "C": projection everywhere (He et al. 2015, section 4.1, "Identity vs. Projection
# Shortcuts"); None: no shortcut at all (the plain networks).
SHORTCUT_OPTIONS = ("A", "B", "C", None)


def he_normal():
    """The initialisation the ResNet paper uses (He et al. 2015, "Delving Deep into Rectifiers"):
    a zero-mean Gaussian with standard deviation sqrt(2 / (k * k * c_in)), not truncated."""
    return keras.initializers.VarianceScaling(2.0, mode="fan_in", distribution="untruncated_normal")


def conv_bn(
    x,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    *,
    activation="relu",
    batch_norm: bool = True,
    use_bias: bool = False,
    groups: int = 1,
    bn_epsilon: float = BN_EPSILON,
    name: str,
):
    """Conv2D -> BatchNormalization -> activation, named `{name}_conv`, `{name}_bn`, `{name}_relu`.

    A strided convolution pads `kernel_size // 2` zeros on every side (`{name}_pad`) and then
    slides without padding, as Caffe, Torch and keras.applications do; TensorFlow's "same" would
    pad only bottom and right on even inputs and shift every window by a pixel.

    Args:
        x: Input tensor `(batch, H, W, C)`.
        filters: Output channels.
        kernel_size: Square kernel size.
        strides: Square stride (default 1).
        activation: Activation after batch norm, or None (default "relu").
        batch_norm: Whether to add batch norm (default True).
        use_bias: Whether the convolution has a bias (default False: batch norm's beta is one).
        groups: Convolution groups (default 1; ResNeXt's cardinality).
        bn_epsilon: Batch-norm epsilon (default `BN_EPSILON`).
        name: Layer-name prefix.

    Returns:
        The output tensor.
    """
    padding = "same"
    if strides > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        groups=groups,
        kernel_initializer=he_normal(),
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = BatchNormalization(
            epsilon=bn_epsilon, momentum=BN_MOMENTUM, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_relu")(x)
    return x


def shortcut(x, filters: int, strides: int, option: str | None, *, batch_norm: bool = True,
             use_bias: bool = False, name: str):
    """The shortcut of a block whose residual branch outputs `filters` channels at `strides`.

    Args:
        x: Block input.
        filters: Channels of the residual branch's output.
        strides: The block's spatial stride.
        option: One of `SHORTCUT_OPTIONS`.
        batch_norm: Whether a projection is followed by batch norm (default True; the
            pre-activation blocks project without it).
        use_bias: Whether a projection has a bias (default False).
        name: The block's name; the shortcut's layers are `{name}_0_*`.

    Returns:
        The shortcut tensor, or None for `option=None`.
    """
    if option is None:
        return None
    changes_shape = strides != 1 or x.shape[-1] != filters
    if option == "C" or (option == "B" and changes_shape):
        return conv_bn(x, filters, 1, strides, activation=None, batch_norm=batch_norm,
                       use_bias=use_bias, name=f"{name}_0")
    if changes_shape:
        return ZeroPaddedIdentity(filters, strides, name=f"{name}_0_zero_pad")(x)
    return x


def merge(shortcut_tensor, residual, *, drop_rate: float = 0.0, activation="relu",
          add_name: str | None = None, name: str):
    """Adds the residual branch to the shortcut, then the block's activation (`{name}_out`).

    Args:
        shortcut_tensor: The shortcut, or None for a plain block (no addition).
        residual: The residual branch's output.
        drop_rate: Stochastic-depth drop probability of this block (0 adds no layer).
        activation: Activation after the addition, or None (pre-activation blocks).
        add_name: Name of the addition (default `{name}_add`, or `{name}_out` with no activation).
        name: The block's name.

    Returns:
        The block's output tensor.
    """
    if drop_rate:
        residual = StochasticDepth(drop_rate, name=f"{name}_drop_path")(residual)
    x = residual
    if shortcut_tensor is not None:
        default = f"{name}_add" if activation is not None else f"{name}_out"
        x = keras.layers.Add(name=add_name or default)([shortcut_tensor, residual])
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_out")(x)
    return x


def basic_block(x, filters: int, strides: int = 1, *, shortcut_option: str | None = "B",
                drop_rate: float = 0.0, name: str):
    """Two 3x3 convolutions with batch norm, added to the shortcut, then ReLU (figure 5, left).

    Args:
        x: Input tensor.
        filters: Channels of both convolutions.
        strides: Stride of the first convolution (and the shortcut).
        shortcut_option: One of `SHORTCUT_OPTIONS` (default "B").
        drop_rate: Stochastic-depth drop probability (default 0).
        name: Block name, `conv{stage}_block{index}`.

    Returns:
        The block's output, `(batch, H / strides, W / strides, filters)`.
    """
    skip = shortcut(x, filters, strides, shortcut_option, name=name)
    y = conv_bn(x, filters, 3, strides, name=f"{name}_1")
    y = conv_bn(y, filters, 3, activation=None, name=f"{name}_2")
    return merge(skip, y, drop_rate=drop_rate, name=name)


def bottleneck_block(x, filters: int, strides: int = 1, *, shortcut_option: str | None = "B",
                     groups: int = 1, width: int | None = None, stride_at: str = "1x1",
                     expansion: int = 4, drop_rate: float = 0.0, name: str):
    """1x1 reduce, 3x3, 1x1 expand to `expansion * filters`, each with batch norm (figure 5, right).

    Args:
        x: Input tensor.
        filters: The stage's base width (64, 128, 256, 512); the block outputs `4 * filters`.
        strides: The block's stride.
        shortcut_option: One of `SHORTCUT_OPTIONS` (default "B").
        groups: Groups of the 3x3 convolution (ResNeXt's cardinality; default 1).
        width: Channels of the 1x1 and 3x3 inner convolutions (default `filters`; ResNeXt and
            wide ResNets widen it).
        stride_at: "1x1" puts the stride on the first 1x1 convolution, as the paper's released
            model and keras.applications do; "3x3" on the 3x3 convolution, as torchvision
            ("ResNet v1.5") and the ResNeXt code do.
        expansion: Output channels per base channel (default 4).
        drop_rate: Stochastic-depth drop probability (default 0).
        name: Block name.

    Returns:
        The block's output, `(batch, H / strides, W / strides, expansion * filters)`.
    """
    width = width or filters
    first, second = (strides, 1) if stride_at == "1x1" else (1, strides)
    skip = shortcut(x, expansion * filters, strides, shortcut_option, name=name)
    y = conv_bn(x, width, 1, first, name=f"{name}_1")
    y = conv_bn(y, width, 3, second, groups=groups, name=f"{name}_2")
    y = conv_bn(y, expansion * filters, 1, activation=None, name=f"{name}_3")
    return merge(skip, y, drop_rate=drop_rate, name=name)
