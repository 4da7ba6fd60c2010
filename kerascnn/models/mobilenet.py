"""MobileNet v1: depthwise separable convolutions with a width multiplier.

A. G. Howard, M. Zhu, B. Chen, D. Kalenichenko, W. Wang, T. Weyand, M. Andreetto, H. Adam,
"MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications",
arXiv:1704.04861, 2017.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.conv import conv_bn_act
from kerascnn.blocks.mobile import depthwise_separable
from kerascnn.heads import classifier_head
from kerascnn.registry import register_family
from kerascnn.specs import mobilenet as spec

__all__ = ["mobilenet"]

ACTIVATIONS = ("relu6", "relu")
PADDINGS = ("same", "symmetric")


def _validate(alpha, depth_multiplier, dropout_rate, activation):
    validation.check_number(alpha, "alpha", low=0.0, include_low=False)
    if int(spec.STEM[0] * alpha) < 1:
        raise ValueError(
            f"alpha must leave the first layer at least one filter (alpha >= "
            f"{1 / spec.STEM[0]:g}). Received: alpha={alpha!r}"
        )
    validation.check_positive_int(depth_multiplier, "depth_multiplier")
    validation.check_fraction(dropout_rate, "dropout_rate")
    validation.check_choice(activation, "activation", ACTIVATIONS)


def _top(x, num_classes, dropout_rate, classifier_activation):
    # keras.applications' classifier: a 1x1 convolution on the pooled 1x1 map. It computes the
    # paper's fully connected layer, and its (1, 1, C, classes) kernel is what weight files hold.
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="head_avg_pool")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="head_dropout")(x)
    x = keras.layers.Conv2D(num_classes, 1, dtype="float32", name="predictions_conv")(x)
    x = keras.layers.Reshape((num_classes,), name="head_reshape")(x)
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(x)


@register_family("mobilenet", spec.VARIANTS, input_shape=(224, 224, 3))
def mobilenet(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "mobilenet",
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout_rate: float = spec.DROPOUT_RATE,
    activation: str = "relu6",
    padding: str = "same",
) -> keras.Model:
    """MobileNet v1 (Howard et al. 2017): a 3x3/2 convolution and 13 depthwise separable blocks.

    Table 1's body (the last depthwise convolution has stride 1; the table's "s2" is a misprint),
    global average pooling and the classifier: 4,231,976 trainable parameters and 569 M
    multiply-adds at alpha 1.0 on 224x224 (Table 8: "4.2 Million Parameters, 569 Million
    Mult-Adds"). The width multiplier `alpha` thins every layer to `int(alpha * filters)` maps
    (Table 6: 0.75, 0.5, 0.25); the resolution multiplier is the input size (Table 7: 192, 160,
    128); `depth_multiplier` gives each depthwise convolution several outputs per channel, as
    keras.applications offers.

    Layers and variables match keras.applications' `MobileNet` (same alpha and depth
    multiplier), in the same order, so its weight files load unchanged; names are block-prefixed:
    `conv1_*` (stem), `block1` ... `block13` (`block2_dw_conv`, `block2_pw_bn` ...), the head.

    Deviations, chosen so that the published weights compute what they were trained to: ReLU6
    (min(max(x, 0), 6)) after every batch norm, as in the TF-slim original the weights come from,
    where the paper writes ReLU (`activation="relu"` gives the paper's); the classifier is a 1x1
    convolution on the pooled features, equal to the paper's fully connected layer; dropout 0.001
    before it, as TF-slim and keras.applications; stride-2 depthwise convolutions pad one row and
    column at the bottom and right (TF "SAME" on even sizes; keras.applications' layout on odd
    ones). `padding="symmetric"` pads every stride-2 convolution by one pixel on every side
    instead, as PyTorch's MobileNets do: timm's `mobilenetv1_100` weights need it.

    Args:
        num_classes: Classes of the classifier (default 1000).
        input_shape: Default (224, 224, 3); Table 7's resolutions are 192, 160 and 128.
        include_top: Whether to add the classifier.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        alpha: Width multiplier, > 0 (default 1.0).
        depth_multiplier: Depthwise outputs per input channel, >= 1 (default 1).
        dropout_rate: Dropout before the classifier (default 0.001).
        activation: "relu6" (default) or "relu".
        padding: "same" (default) or "symmetric" (see above).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For a non-positive or too small `alpha`, a `depth_multiplier` below 1, a
            dropout rate outside [0, 1), or an unknown activation or padding.
    """
    _validate(alpha, depth_multiplier, dropout_rate, activation)
    validation.check_choice(padding, "padding", PADDINGS)
    inputs = keras.Input(shape=input_shape, name="input")
    filters, kernel, strides = spec.STEM
    x, stem_padding = inputs, "same"
    if padding == "symmetric":
        x = keras.layers.ZeroPadding2D(kernel // 2, name="conv1_pad")(x)
        stem_padding = "valid"
    x = conv_bn_act(x, int(filters * alpha), kernel, strides, stem_padding, activation=activation,
                    bn_epsilon=spec.BN_EPSILON, name="conv1")
    for index, (filters, strides) in enumerate(spec.BLOCKS, start=1):
        x = depthwise_separable(x, int(filters * alpha), strides=strides,
                                depth_multiplier=depth_multiplier, activation=activation,
                                bn_epsilon=spec.BN_EPSILON, padding=padding,
                                name=f"block{index}")
    if include_top:
        x = _top(x, num_classes, dropout_rate, classifier_activation)
    else:
        x = classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                            classifier_activation=None)
    return keras.Model(inputs, x, name=name)
