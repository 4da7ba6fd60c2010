"""Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks").

K. He, X. Zhang, S. Ren, J. Sun, ECCV 2016 (arXiv:1603.05027): ImageNet networks in
keras.applications' ResNetV2 layout (`resnet50v2`, `resnet101v2`, `resnet152v2`, weight-compatible
with it) and the paper's CIFAR networks (`preact_resnet110`, `preact_resnet164`,
`preact_resnet1001`).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.preact import bn_relu, preact_block
from kerascnn.blocks.residual import conv_bn
from kerascnn.heads import classifier_head
from kerascnn.layers.stochastic_depth import linear_drop_rates
from kerascnn.models.resnet_cifar import check_cifar_depth
from kerascnn.registry import register_model
from kerascnn.specs import resnet as spec

__all__ = ["resnet_v2", "preact_resnet_cifar", "cifar_preact_network"]

_IMAGENET = (224, 224, 3)
_CIFAR = (32, 32, 3)


def _head(x, *, include_top, pooling, num_classes, classifier_activation, inputs, name):
    # The units leave their sums unactivated: the network ends with one more BN-ReLU.
    x = bn_relu(x, name="post")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register_model("resnet50v2", family="resnet_v2", input_shape=_IMAGENET,
                depth=50)
@register_model("resnet101v2", family="resnet_v2", input_shape=_IMAGENET, depth=101)
@register_model("resnet152v2", family="resnet_v2", input_shape=_IMAGENET, depth=152)
def resnet_v2(
    num_classes: int = 1000,
    input_shape: tuple = _IMAGENET,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnet50v2",
    depth: int = 50,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """Pre-activation ResNet for ImageNet (He et al. 2016) in keras.applications' ResNetV2 layout.

    conv1 (7x7/2, 64, with bias, not normalised) and 3x3/2 max pooling, four stages of
    pre-activation bottleneck units (3, 4, 6, 3 for depth 50), a final BN-ReLU (`post_bn`,
    `post_relu`), global average pooling and the classifier.

    Deviation from the paper, kept so keras.applications' ImageNet weights load unchanged: this is
    the TF-slim layout those weights were trained in. Each stage's stride sits in its last unit (the
    paper and the authors' code stride in the first), that unit's shortcut is a 1x1 max pooling,
    every stage's first unit projects the pre-activated input, and the projections and each unit's
    last 1x1 convolution carry biases. Parameters: 25,613,800 / 44,675,560 / 60,380,648 in all
    for depths 50 / 101 / 152, as keras.applications.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 50, 101 or 152.
        drop_path_rate: Stochastic-depth drop rate of the last unit, decaying linearly to the first
            (Huang et al. 2016; default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For an unknown depth or a drop rate outside [0, 1).
    """
    validation.check_choice(depth, "depth", tuple(spec.PREACT_IMAGENET_STAGES))
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    counts = spec.PREACT_IMAGENET_STAGES[depth]
    rates = iter(linear_drop_rates(drop_path_rate, sum(counts)))
    inputs = keras.Input(shape=input_shape, name="input")
    filters, kernel = spec.IMAGENET_STEM
    x = conv_bn(inputs, filters, kernel, 2, activation=None, batch_norm=False, use_bias=True,
                name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    last_stage = len(counts) + 1
    for stage, (filters, count) in enumerate(zip(spec.IMAGENET_WIDTHS, counts), start=2):
        for index in range(1, count + 1):
            strides = 2 if index == count and stage < last_stage else 1
            x = preact_block(x, filters, strides, bottleneck=True, stride_in_shortcut="pool",
                             output_bias=True, drop_rate=next(rates),
                             name=f"conv{stage}_block{index}")
    return _head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                 classifier_activation=classifier_activation, inputs=inputs, name=name)


def cifar_preact_network(
    *,
    num_classes: int,
    input_shape: tuple,
    include_top: bool,
    pooling,
    classifier_activation,
    name: str,
    blocks: int,
    widths: tuple,
    bottleneck: bool,
    stem_filters: int,
    dropout_rate: float = 0.0,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """The CIFAR pre-activation graph shared by `preact_resnet_cifar` and the Wide ResNets.

    conv1 (3x3, `stem_filters`, no batch norm: the first unit's BN-ReLU follows it and feeds both
    of its paths, the paper's appendix), three stages of `blocks` units with `widths`, the first
    unit of the second and third stage striding by 2, then BN-ReLU and the head.
    """
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    validation.check_fraction(dropout_rate, "dropout_rate")
    rates = iter(linear_drop_rates(drop_path_rate, 3 * blocks))
    inputs = keras.Input(shape=input_shape, name="input")
    x = conv_bn(inputs, stem_filters, 3, activation=None, batch_norm=False, name="conv1")
    for stage, filters in enumerate(widths, start=2):
        for index in range(1, blocks + 1):
            strides = 2 if index == 1 and stage > 2 else 1
            x = preact_block(x, filters, strides, bottleneck=bottleneck,
                             preact_shortcut=stage == 2 and index == 1,
                             dropout_rate=dropout_rate, drop_rate=next(rates),
                             name=f"conv{stage}_block{index}")
    return _head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                 classifier_activation=classifier_activation, inputs=inputs, name=name)


def _register_cifar(builder):
    for depth, bottleneck in spec.PREACT_CIFAR.items():
        register_model(f"preact_resnet{depth}", family="preact_resnet", input_shape=_CIFAR,
                       num_classes=10, depth=depth, bottleneck=bottleneck)(builder)
    return builder


@_register_cifar
def preact_resnet_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "preact_resnet164",
    depth: int = 164,
    bottleneck: bool = True,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """Pre-activation ResNet for CIFAR (He et al. 2016, Tables 2-3 and section 5).

    conv1 (3x3, 16), three stages of pre-activation units on 32x32, 16x16 and 8x8 maps, BN-ReLU,
    global average pooling and the classifier. Basic units (`preact_resnet110`, 6n + 2 layers,
    16-32-64 channels) or bottleneck units (`preact_resnet164`, `preact_resnet1001`, 9n + 2
    layers, 1x1-3x3-1x1 with 16-32-64 inner and 64-128-256 output channels). Shortcuts are
    identities, with 1x1 projections where the shape changes (the authors' code); strides sit in
    the 3x3 convolutions. Parameters: 1.7M, 1.7M and 10.2M, the paper's figures.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 6n + 2 for basic units, 9n + 2 for bottleneck units.
        bottleneck: Bottleneck (default True) or basic units.
        drop_path_rate: Stochastic-depth drop rate of the last unit, decaying linearly to the first
            (default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` does not fit the unit type, or `drop_path_rate` is invalid.
    """
    if not isinstance(bottleneck, bool):
        raise ValueError(f"bottleneck must be True or False. Received: bottleneck={bottleneck!r}")
    blocks = check_cifar_depth(depth, layers_per_block=3 if bottleneck else 2)
    widths = spec.CIFAR_WIDTHS
    return cifar_preact_network(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, blocks=blocks,
        widths=widths, bottleneck=bottleneck, stem_filters=spec.CIFAR_WIDTHS[0],
        drop_path_rate=drop_path_rate,
    )
