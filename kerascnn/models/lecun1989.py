"""The zip-code network of LeCun et al. (1989), the first LeNet.

Y. LeCun, B. Boser, J. S. Denker, D. Henderson, R. E. Howard, W. Hubbard, L. D. Jackel,
"Backpropagation Applied to Handwritten Zip Code Recognition", Neural Computation 1(4), 1989.
"""

from __future__ import annotations

import keras

from kerascnn.heads import classifier_head
from kerascnn.layers import PartialConv2D, ScaledTanh, UntiedBias
from kerascnn.registry import register_family
from kerascnn.specs import lecun1989 as spec

__all__ = ["lecun1989"]


def _uniform(fan_in: int):
    limit = spec.INIT_SCALE / fan_in
    return keras.initializers.RandomUniform(-limit, limit)


@register_family("lecun1989", spec.VARIANTS, input_shape=(16, 16, 1), num_classes=10)
def lecun1989(
    num_classes: int = 10,
    input_shape: tuple = (16, 16, 1),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "lecun1989",
) -> keras.Model:
    """LeCun et al. 1989, "Backpropagation Applied to Handwritten Zip Code Recognition".

    16x16 input -> H1: 12 maps 8x8 (5x5 kernels, stride 2) -> H2: 12 maps 4x4 (5x5, stride 2,
    each map reading 8 of H1's 12 through `kerascnn.specs.lecun1989.H2_INPUTS`) -> H3: 30 units
    -> 10 outputs, each layer squashed by the scaled tanh 1.7159 tanh(2a/3). Kernels are shared
    within a feature map, but every unit of H1 and H2 has its own bias (`UntiedBias`): 1,256
    units, 64,660 connections and 9,760 independent parameters, the paper's figures
    (`kerascnn.summary` counts the connections). Initial weights are uniform in +-2.4 / F_i.

    Deviations, where the paper is silent or the package's training differs: H1 and H2 read
    their input padded by 2 zeros on every side (zero is the background of the unit-normalized
    digits and the middle of the tanh); the H1 -> H2 scheme is Karpathy's reproduction's, the
    paper leaving it undescribed; the tanh constants are those LeCun et al. give in 1998 (the
    1989 text names a scaled hyperbolic tangent only). The paper's output units are tanh units
    trained on the mean squared error against +-1 targets; kerascnn trains with cross-entropy,
    so the default output is softmax (`classifier_activation="tanh"` gives tanh output units, to
    be compiled by hand with the mean squared error against +-1 targets).

    Args:
        num_classes: Number of outputs (default 10).
        input_shape: Default (16, 16, 1); other sizes work, with per-unit biases sized to them.
        include_top: Whether to add H3 and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (default "softmax").
        name: Model name.

    Returns:
        A functional `keras.Model`.
    """
    inputs = keras.Input(shape=input_shape, name="input")
    maps, kernel, strides = spec.H1
    x = keras.layers.ZeroPadding2D(spec.PADDING, name="h1_pad")(inputs)
    x = keras.layers.Conv2D(maps, kernel, strides=strides, use_bias=False,
                            kernel_initializer=_uniform(kernel * kernel * input_shape[-1]),
                            name="h1_conv")(x)
    x = UntiedBias(name="h1_bias")(x)
    x = ScaledTanh(name="h1_tanh")(x)
    maps, kernel, strides = spec.H2
    x = keras.layers.ZeroPadding2D(spec.PADDING, name="h2_pad")(x)
    x = PartialConv2D(maps, kernel, spec.h2_connection_table(), strides=strides, use_bias=False,
                      name="h2_conv")(x)
    x = UntiedBias(name="h2_bias")(x)
    x = ScaledTanh(name="h2_tanh")(x)
    if not include_top:
        x = classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                            classifier_activation=None)
        return keras.Model(inputs, x, name=name)
    x = keras.layers.Flatten(name="h3_flatten")(x)
    x = keras.layers.Dense(spec.H3_UNITS, kernel_initializer=_uniform(x.shape[-1]),
                           name="h3_dense")(x)
    x = ScaledTanh(name="h3_tanh")(x)
    x = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32",
                           kernel_initializer=_uniform(spec.H3_UNITS), name="predictions")(x)
    return keras.Model(inputs, x, name=name)
