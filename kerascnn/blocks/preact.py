"""Pre-activation residual units (He et al. 2016), as the ResNet v2 and Wide ResNet papers use them.

K. He, X. Zhang, S. Ren, J. Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016,
figure 4(e): batch norm and ReLU come before each convolution, and nothing follows the addition,
so the shortcut path is a clean identity from block to block. S. Zagoruyko, N. Komodakis, "Wide
Residual Networks", BMVC 2016: the same unit, widened, with optional dropout between the two
convolutions.

Where a unit changes the shape, its projection shortcut reads the pre-activated input (the unit's
batch norm and ReLU are shared by both paths), as in the authors' code, the WRN code and
keras.applications' ResNetV2. Layer names follow keras.applications: `{name}_preact_bn`,
`{name}_1_conv` ..., `{name}_0_conv` for the projection, `{name}_out` for the addition.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.residual import BN_EPSILON, BN_MOMENTUM, conv_bn, he_normal, merge
from kerascnn.layers.batch_norm import BatchNormalization

__all__ = ["bn_relu", "preact_block"]


def bn_relu(x, *, name: str):
    """BatchNormalization then ReLU, named `{name}_bn`, `{name}_relu`."""
    x = BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM,
                                        name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _conv(x, filters: int, kernel_size: int, strides: int, *, use_bias: bool, name: str):
    return conv_bn(x, filters, kernel_size, strides, activation=None, batch_norm=False,
                   use_bias=use_bias, name=name)


def preact_block(
    x,
    filters: int,
    strides: int = 1,
    *,
    bottleneck: bool,
    expansion: int = 4,
    preact_shortcut: bool = False,
    stride_in_shortcut: str = "projection",
    output_bias: bool = False,
    dropout_rate: float = 0.0,
    drop_rate: float = 0.0,
    name: str,
):
    """A pre-activation unit: BN-ReLU-conv pairs added to a shortcut, no activation after.

    Basic: BN-ReLU, 3x3 (strided), BN-ReLU, (dropout), 3x3. Bottleneck: BN-ReLU, 1x1, BN-ReLU,
    3x3 (strided), BN-ReLU, 1x1 to `expansion * filters`. The shortcut is a 1x1 projection of the
    pre-activated input where the shape changes, else the identity of the raw input, subsampled
    by a 1x1 max pooling when the unit strides without widening.

    Args:
        x: Input tensor.
        filters: Width of the 3x3 convolutions.
        strides: The unit's stride (on its 3x3 convolution).
        bottleneck: Bottleneck (three convolutions) or basic (two) unit.
        expansion: Output channels per `filters` of a bottleneck unit (default 4).
        preact_shortcut: Whether an identity shortcut also reads the pre-activated input (default
            False; the first unit after conv1, whose activation is shared by both paths).
        stride_in_shortcut: "projection" lets a strided unit project its shortcut (the papers'
            layout: the stride sits in a unit that also widens); "pool" subsamples the identity
            with a 1x1 max pooling when the channels stay (keras.applications' ResNetV2).
        output_bias: Whether the projection and the unit's last convolution have biases (the
            TF-slim layout of keras.applications' ResNetV2 weights; default False).
        dropout_rate: Dropout between the convolutions of a basic unit (WRN; default 0).
        drop_rate: Stochastic-depth drop probability (default 0).
        name: Unit name, `conv{stage}_block{index}`.

    Returns:
        The unit's output (the sum, not activated).
    """
    out_channels = expansion * filters if bottleneck else filters
    preact = bn_relu(x, name=f"{name}_preact")
    project = x.shape[-1] != out_channels or (strides != 1 and stride_in_shortcut == "projection")
    if project:
        skip = _conv(preact, out_channels, 1, strides, use_bias=output_bias, name=f"{name}_0")
    else:
        skip = preact if preact_shortcut else x
        if strides != 1:
            skip = keras.layers.MaxPooling2D(1, strides=strides, name=f"{name}_0_pool")(skip)
    if bottleneck:
        y = conv_bn(preact, filters, 1, name=f"{name}_1")
        y = conv_bn(y, filters, 3, strides, name=f"{name}_2")
        y = _conv(y, out_channels, 1, 1, use_bias=output_bias, name=f"{name}_3")
    else:
        y = conv_bn(preact, filters, 3, strides, name=f"{name}_1")
        if dropout_rate:
            y = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(y)
        y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=output_bias,
                                kernel_initializer=he_normal(), name=f"{name}_2_conv")(y)
    return merge(skip, y, drop_rate=drop_rate, activation=None, name=name)
