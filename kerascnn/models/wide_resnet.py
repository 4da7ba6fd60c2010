"""Wide Residual Networks (Zagoruyko & Komodakis 2016): WRN-28-10, WRN-16-8 and WRN-50-2.

S. Zagoruyko, N. Komodakis, "Wide Residual Networks", BMVC 2016 (arXiv:1605.07146).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.models.resnet import imagenet_resnet
from kerascnn.models.resnet_cifar import check_cifar_depth
from kerascnn.models.resnet_v2 import cifar_preact_network
from kerascnn.registry import register_model
from kerascnn.specs import resnet as spec

__all__ = ["wide_resnet_cifar", "wide_resnet_imagenet"]

_CIFAR = (32, 32, 3)
_IMAGENET = (224, 224, 3)


def _register_cifar(builder):
    for model_name, (depth, width) in spec.WIDE_CIFAR.items():
        register_model(model_name, family="wide_resnet", input_shape=_CIFAR, num_classes=10,
                       depth=depth, width=width)(builder)
    return builder


@_register_cifar
def wide_resnet_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "wrn28_10",
    depth: int = 28,
    width: int = 10,
    dropout_rate: float = 0.0,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """WRN-d-k for CIFAR (Zagoruyko & Komodakis 2016, Table 1): k-wide pre-activation B(3,3) blocks.

    conv1 (3x3, 16), three groups of (d - 4) / 6 basic pre-activation blocks with 16k, 32k and 64k
    channels on 32x32, 16x16 and 8x8 maps (1x1 projections where the shape changes), BN-ReLU,
    global average pooling and the classifier. `wrn28_10` has 36.5M parameters and `wrn16_8`
    11.0M, the paper's figures. Convolutions are bias-free, as in the authors' code.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: d = 6n + 4 (default 28).
        width: Widening factor k (default 10).
        dropout_rate: Dropout between the two convolutions of each block (the paper's 0.3 for
            the "-dropout" rows; default 0).
        drop_path_rate: Stochastic-depth drop rate of the last block, decaying linearly (default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` is not 6n + 4, `width` is not a positive integer, or a rate is
            outside [0, 1).
    """
    blocks = check_cifar_depth(depth, layers_per_block=2, extra_layers=4)
    validation.check_positive_int(width, "width")
    return cifar_preact_network(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, blocks=blocks,
        widths=tuple(w * width for w in spec.CIFAR_WIDTHS), bottleneck=False,
        stem_filters=spec.WIDE_STEM, dropout_rate=dropout_rate, drop_path_rate=drop_path_rate,
    )


def _register_imagenet(builder):
    for model_name, (depth, groups, width_per_group) in spec.WIDE_IMAGENET.items():
        register_model(model_name, family="wide_resnet", input_shape=_IMAGENET, depth=depth,
                       groups=groups, width_per_group=width_per_group)(builder)
    return builder


@_register_imagenet
def wide_resnet_imagenet(
    num_classes: int = 1000,
    input_shape: tuple = _IMAGENET,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "wide_resnet50_2",
    depth: int = 50,
    groups: int = 1,
    width_per_group: int = 128,
    stride_at: str = "3x3",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """WRN-50-2-bottleneck for ImageNet (Zagoruyko & Komodakis 2016, section 4), as torchvision.

    ResNet-50 whose bottleneck blocks have twice the inner width (the 1x1 and 3x3 convolutions;
    the block outputs are unchanged): 68,883,240 trainable parameters, torchvision's
    `wide_resnet50_2`; `wide_resnet101_2` is the 101-layer network (126,886,696, torchvision's
    `wide_resnet101_2`). Post-activation blocks, as the paper's ImageNet experiments and
    torchvision; the stride sits in the 3x3 convolution, as torchvision.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 50, 101 or 152 (default 50).
        groups: Groups of the 3x3 convolutions (default 1).
        width_per_group: Inner width at the first stage (default 128, twice ResNet's 64).
        stride_at: "3x3" (default) or "1x1".
        drop_path_rate: Stochastic-depth drop rate of the last block (default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For an unknown depth or invalid width, groups, stride position or rate.
    """
    return imagenet_resnet(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, depth=depth,
        shortcut="B", stride_at=stride_at, groups=groups, width_per_group=width_per_group,
        drop_path_rate=drop_path_rate,
    )
