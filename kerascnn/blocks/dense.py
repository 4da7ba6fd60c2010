"""DenseNet's building blocks: the dense layer, the dense block and the transition layer.

G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger, "Densely Connected Convolutional Networks",
CVPR 2017, section 3. Every layer of a dense block receives the concatenation of all preceding
feature maps, x_l = H_l([x_0, ..., x_{l-1}]), with H_l the pre-activation composite BN-ReLU-Conv.

Layer names follow keras.applications' DenseNet (`conv2_block1_0_bn` ... `conv2_block1_concat`,
`pool2_conv`), so that the layers, and the order of their variables, match its weight files.
"""

from __future__ import annotations

import keras

from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.specs import densenet as spec

__all__ = ["conv_initializer", "bn_relu", "dense_layer", "dense_block", "transition"]

def conv_initializer():
    """The authors' code initialises convolutions "following ResNet": normal with std
    sqrt(2 / n), n = kernel height * width * output maps. A new instance per layer: a Keras 3
    initializer draws its seed once, so one instance shared by layers gives them equal kernels."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal")


def bn_relu(x, name: str):
    """Batch normalization then ReLU, named `{name}_bn` and `{name}_relu`."""
    x = BatchNormalization(epsilon=spec.BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _conv(x, filters: int, kernel: int, dropout_rate: float, name: str):
    x = keras.layers.Conv2D(
        filters, kernel, padding="same", use_bias=False,
        kernel_initializer=conv_initializer(), name=f"{name}_conv",
    )(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return x


def dense_layer(
    x,
    growth_rate: int,
    *,
    bottleneck: bool = True,
    dropout_rate: float = 0.0,
    name: str,
):
    """One dense layer H_l: its `growth_rate` new maps concatenated after its input.

    Args:
        x: Input feature maps (all preceding maps of the block).
        growth_rate: k, the number of maps the layer produces.
        bottleneck: Insert BN-ReLU-Conv(1x1, 4k) before the 3x3 convolution (DenseNet-B).
        dropout_rate: Dropout after each convolution (the paper's 0.2 without data augmentation).
        name: Prefix, `conv2_block1`: layers `{name}_0_bn`, `{name}_1_conv`, ..., `{name}_concat`.

    Returns:
        The concatenation `[x, new maps]`.
    """
    y, index = x, 0
    if bottleneck:
        y = bn_relu(y, f"{name}_{index}")
        index += 1
        y = _conv(y, spec.BOTTLENECK_WIDTH * growth_rate, 1, dropout_rate, f"{name}_{index}")
    y = bn_relu(y, f"{name}_{index}")
    y = _conv(y, growth_rate, 3, dropout_rate, f"{name}_{index + 1}")
    return keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(x, num_layers: int, growth_rate: int, *, name: str, **layer_options):
    """`num_layers` dense layers named `{name}_block1` ... (see `dense_layer` for the options)."""
    for index in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, name=f"{name}_block{index}", **layer_options)
    return x


def transition(x, compression: float = spec.COMPRESSION, *, dropout_rate: float = 0.0, name: str):
    """A transition layer: BN-ReLU-Conv(1x1, floor(theta m))-AvgPool(2x2, stride 2).

    Args:
        x: Output of a dense block, m maps.
        compression: theta in (0, 1]; 0.5 in DenseNet-C/BC, 1 in the plain DenseNet.
        dropout_rate: Dropout after the convolution.
        name: Prefix: `{name}_bn`, `{name}_relu`, `{name}_conv`, `{name}_pool`.
    """
    x = bn_relu(x, name)
    x = _conv(x, int(x.shape[-1] * compression), 1, dropout_rate, name)
    return keras.layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)
