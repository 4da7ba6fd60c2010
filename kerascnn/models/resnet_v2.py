"""Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks").

K. He, X. Zhang, S. Ren, J. Sun, ECCV 2016 (arXiv:1603.05027): ImageNet networks in
keras.applications' ResNetV2 layout (`resnet50v2`, `resnet101v2`, `resnet152v2`, weight-compatible
with it) and the paper's CIFAR networks (`preact_resnet110`, `preact_resnet164`,
`preact_resnet1001`), whose builder also makes the CIFAR Wide ResNets (Zagoruyko & Komodakis
2016, "Wide Residual Networks", BMVC 2016: `wrn28_10`, `wrn16_8`).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.preact import bn_relu, preact_block
from kerascnn.blocks.residual import conv_bn
from kerascnn.heads import classifier_head
from kerascnn.layers.stochastic_depth import linear_drop_rates
from kerascnn.registry import register_family
from kerascnn.specs import resnet as spec

__all__ = ["resnet_v2", "preact_resnet_cifar"]

_IMAGENET = (224, 224, 3)
_CIFAR = (32, 32, 3)


def _head(x, *, include_top, pooling, num_classes, classifier_activation, inputs, name):
    # The units leave their sums unactivated: the network ends with one more BN-ReLU.
    x = bn_relu(x, name="post")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register_family("resnet_v2", spec.PREACT_IMAGENET_VARIANTS, input_shape=_IMAGENET)
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


@register_family("preact_resnet", spec.PREACT_CIFAR_VARIANTS, input_shape=_CIFAR, num_classes=10)
@register_family("wide_resnet", spec.WIDE_CIFAR_VARIANTS, input_shape=_CIFAR, num_classes=10,
                 bottleneck=False, depth_rule="wrn")
def preact_resnet_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "preact_resnet164",
    depth: int = 164,
    bottleneck: bool = True,
    width: int = 1,
    dropout_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    depth_rule: str = "he",
) -> keras.Model:
    """Pre-activation ResNet for CIFAR (He et al. 2016, Tables 2-3 and section 5), and WRN-d-k.

    conv1 (3x3, 16, no batch norm: the first unit's BN-ReLU follows it and feeds both of its
    paths, the paper's appendix), three stages of pre-activation units on 32x32, 16x16 and 8x8
    maps (the first unit of the second and third stage strides by 2), BN-ReLU, global average
    pooling and the classifier. Basic units (`preact_resnet110`, 6n + 2 layers, 16-32-64
    channels) or bottleneck units (`preact_resnet164`, `preact_resnet1001`, 9n + 2 layers,
    1x1-3x3-1x1 with 16-32-64 inner and 64-128-256 output channels). Shortcuts are identities,
    with 1x1 projections where the shape changes (the authors' code); strides sit in the 3x3
    convolutions. Parameters: 1.7M, 1.7M and 10.2M, the paper's figures.

    The Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016, Table 1) are this network with basic
    units `width` times wider (16k, 32k, 64k channels), optional dropout between each unit's two
    convolutions, and depth counted the paper's way, d = 6n + 4: `wrn28_10` has 36.5M parameters
    and `wrn16_8` 11.0M, the paper's figures. Convolutions are bias-free, as in both papers' code.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: Layers, counted by `depth_rule`.
        bottleneck: Bottleneck (default True) or basic units.
        width: Widening factor k of the units' channels (default 1).
        dropout_rate: Dropout between the two convolutions of each basic unit (WRN's 0.3 for
            its "-dropout" rows; default 0).
        drop_path_rate: Stochastic-depth drop rate of the last unit, decaying linearly to the first
            (default 0).
        depth_rule: "he" (default: 6n + 2 basic, 9n + 2 bottleneck) or "wrn" (6n + 4: Zagoruyko &
            Komodakis also count two projection shortcuts).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` does not fit the unit type and rule, or an option is invalid.
    """
    if not isinstance(bottleneck, bool):
        raise ValueError(f"bottleneck must be True or False. Received: bottleneck={bottleneck!r}")
    validation.check_choice(depth_rule, "depth_rule", tuple(spec.CIFAR_DEPTH_RULES))
    if bottleneck and depth_rule == "wrn":
        raise ValueError("Wide ResNets (depth_rule='wrn') are built of basic units, which WRN's "
                         "depth counts; use depth_rule='he' for bottleneck units. "
                         f"Received: bottleneck={bottleneck!r}, depth_rule={depth_rule!r}")
    validation.check_positive_int(width, "width")
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    validation.check_fraction(dropout_rate, "dropout_rate")
    blocks = spec.check_cifar_depth(depth, layers_per_block=3 if bottleneck else 2,
                                    extra_layers=spec.CIFAR_DEPTH_RULES[depth_rule])
    rates = iter(linear_drop_rates(drop_path_rate, 3 * blocks))
    inputs = keras.Input(shape=input_shape, name="input")
    # 16 filters at any width: WRN widens the units, not the stem.
    x = conv_bn(inputs, spec.CIFAR_WIDTHS[0], 3, activation=None, batch_norm=False, name="conv1")
    for stage, filters in enumerate(spec.CIFAR_WIDTHS, start=2):
        for index in range(1, blocks + 1):
            strides = 2 if index == 1 and stage > 2 else 1
            x = preact_block(x, filters * width, strides, bottleneck=bottleneck,
                             preact_shortcut=stage == 2 and index == 1,
                             dropout_rate=dropout_rate, drop_rate=next(rates),
                             name=f"conv{stage}_block{index}")
    return _head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                 classifier_activation=classifier_activation, inputs=inputs, name=name)
