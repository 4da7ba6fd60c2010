"""ShuffleNet v1 (pointwise group convolutions and channel shuffle) and ShuffleNet v2 (channel
split and channel shuffle).

X. Zhang, X. Zhou, M. Lin, J. Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural Network
for Mobile Devices", CVPR 2018 (arXiv:1707.01083).
N. Ma, X. Zhang, H.-T. Zheng, J. Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018 (arXiv:1807.11164).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.conv import conv_bn_act
from kerascnn.blocks.shuffle import shufflenet_unit, shufflenet_v2_unit
from kerascnn.heads import classifier_head
from kerascnn.registry import register_family
from kerascnn.specs import shufflenet as spec

__all__ = ["shufflenet", "shufflenet_v2"]


def _stem(inputs, filters: int):
    # 3x3/2 convolution and 3x3/2 max pooling, both padded by one pixel on every side as in the
    # authors' code (zero padding before the pooling is harmless after the ReLU).
    x = keras.layers.ZeroPadding2D(1, name="conv1_pad")(inputs)
    x = conv_bn_act(x, filters, 3, 2, padding="valid", bn_epsilon=spec.BN_EPSILON, name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="conv1_pool_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="conv1_pool")(x)


def _stages(x, widths, unit, **options):
    for stage, (units, filters) in enumerate(zip(spec.STAGE_UNITS, widths), start=2):
        for index in range(1, units + 1):
            x = unit(x, filters, strides=2 if index == 1 else 1,
                     first=(stage == 2 and index == 1), name=f"stage{stage}_unit{index}", **options)
    return x


def _v1_unit(x, filters, *, first, **options):
    return shufflenet_unit(x, filters, group_first=not first, bn_epsilon=spec.BN_EPSILON, **options)


def _v2_unit(x, filters, *, first, authors_layout, **options):
    left = x.shape[-1] if authors_layout else None
    return shufflenet_v2_unit(x, filters, left_filters=left, bn_epsilon=spec.BN_EPSILON, **options)


@register_family("shufflenet", spec.V1_VARIANTS, input_shape=(224, 224, 3))
def shufflenet(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "shufflenet_g3",
    groups: int = 3,
    scale: float = 1.0,
) -> keras.Model:
    """ShuffleNet v1 (Zhang et al. 2018) with g groups: Table 1, scaled by `scale` (s x).

    Conv1 (3x3/2, 24 maps), 3x3/2 max pooling, Stages 2-4 of 4, 8 and 4 ShuffleNet units (see
    `kerascnn.blocks.shuffle.shufflenet_unit`) with 144/200/240/272/384 Stage-2 maps for
    g = 1/2/3/4/8, doubling per stage; global average pooling and the classifier. At 1x and 224x224
    the multiply-adds are Table 1's 143/140/137/133/137 M. `scale` s multiplies every width
    ("ShuffleNet s x", Table 2: 0.5x is 38 MFLOPs and 0.25x 13 MFLOPs for g = 3), rounded so that
    the groups divide (see `kerascnn.specs.shufflenet.v1_channels`).

    Layer names: `conv1_*` (stem), `stage2` ... `stage4` (`stage3_unit2_gconv1_conv`), the head.

    Deviations: none in the graph; the classifier has a bias (the official code's has none, 1,000
    parameters). Batch-norm epsilon 1e-5 as the official PyTorch code. Scaled widths other than
    0.5x follow the paper's rule, where the official code keeps 24 stem maps at 1.5x.

    Args:
        num_classes: Classes of the classifier (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global average pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        groups: g, one of 1, 2, 3, 4, 8 (default 3).
        scale: Width scale s > 0 (default 1.0; the paper uses 0.25, 0.5, 1, 1.5, 2).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `groups` is not in Table 1 or `scale` is not a positive number.
    """
    validation.check_choice(groups, "groups", tuple(spec.V1_STAGE2_CHANNELS))
    validation.check_number(scale, "scale", low=0.0, include_low=False)
    stem, widths = spec.v1_channels(groups, scale)
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, stem)
    x = _stages(x, widths, _v1_unit, groups=groups, bottleneck_ratio=spec.V1_BOTTLENECK_RATIO)
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register_family("shufflenet_v2", spec.V2_VARIANTS, input_shape=(224, 224, 3))
def shufflenet_v2(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "shufflenet_v2_x1_0",
    scale: float = 1.0,
    authors_layout: bool = False,
) -> keras.Model:
    """ShuffleNet v2 (Ma et al. 2018) at 0.5x, 1x, 1.5x or 2x: Table 5.

    Conv1 (3x3/2, 24 maps), 3x3/2 max pooling, Stages 2-4 of 4, 8 and 4 units (see
    `kerascnn.blocks.shuffle.shufflenet_v2_unit`), Conv5 (1x1, 1024 maps; 2048 at 2x), global
    average pooling and the classifier. The layers and channel order (split halves, shuffle) are
    torchvision's: trainable parameters 1,366,792 / 2,278,604 / 3,503,624 / 7,393,996 and
    40 / 145 / 296 / 583 M multiply-adds at 224x224, as torchvision counts them.

    The paper's Table 5 (41 / 146 / 299 / 591 MFLOPs) counts the authors' code, whose first unit of
    Stage 2 differs: its left branch keeps the 24 input maps and the right branch makes the rest
    (92 at 1x), where torchvision gives each branch half. `authors_layout=True` builds that form
    (2,279,760 parameters at 1x); every other unit is the same in both.

    Layer names: `conv1_*`, `stage2` ... `stage4` (`stage2_unit1_branch2_pw1_conv`), `conv5_*`,
    the head.

    Deviations: torchvision's Stage 2 entry by default (see above), because its weights exist.
    The authors' code applies the shuffle at the start of the next unit and splits odd/even
    channels; that is the same function up to a fixed channel permutation. Batch-norm epsilon 1e-5.

    Args:
        num_classes: Classes of the classifier (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global average pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        scale: 0.5, 1.0 (default), 1.5 or 2.0.
        authors_layout: Build the authors' code's first Stage 2 unit (default False: torchvision's).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `scale` is not one of Table 5's, or `authors_layout` is not a bool.
    """
    validation.check_choice(scale, "scale", tuple(spec.V2_CHANNELS))
    validation.check_bool(authors_layout, "authors_layout")
    *widths, conv5 = spec.V2_CHANNELS[scale]
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, spec.STEM_CHANNELS)
    x = _stages(x, widths, _v2_unit, authors_layout=authors_layout)
    x = conv_bn_act(x, conv5, 1, bn_epsilon=spec.BN_EPSILON, name="conv5")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
