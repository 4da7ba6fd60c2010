"""ResNeXt (Xie et al. 2017): bottleneck ResNets whose 3x3 convolution is split into groups.

S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He, "Aggregated Residual Transformations for Deep
Neural Networks", CVPR 2017 (arXiv:1611.05431).
"""

from __future__ import annotations

import keras

from kerascnn.models.resnet import imagenet_resnet
from kerascnn.registry import register_model
from kerascnn.specs import resnet as spec

__all__ = ["resnext"]

_IMAGENET = (224, 224, 3)


def _register(builder):
    for model_name, (depth, groups, width_per_group) in spec.RESNEXT.items():
        register_model(model_name, family="resnext", input_shape=_IMAGENET, depth=depth,
                       groups=groups, width_per_group=width_per_group)(builder)
    return builder


@_register
def resnext(
    num_classes: int = 1000,
    input_shape: tuple = _IMAGENET,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnext50_32x4d",
    depth: int = 50,
    groups: int = 32,
    width_per_group: int = 4,
    stride_at: str = "3x3",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """ResNeXt for ImageNet (Xie et al. 2017, Table 1): cardinality C, bottleneck width d.

    ResNet-50/101 in which each bottleneck's 3x3 convolution is a grouped convolution with C
    groups of d channels at the first stage (doubling per stage), the paper's form (c) of
    figure 3. `resnext50_32x4d` (25,028,904 trainable parameters) and `resnext101_32x8d`
    (88,791,336), as torchvision names and counts them. The stride sits in the 3x3 convolution,
    as in the paper's code and torchvision.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 50, 101 or 152 (default 50).
        groups: Cardinality C (default 32).
        width_per_group: Bottleneck width d (default 4).
        stride_at: "3x3" (default) or "1x1".
        drop_path_rate: Stochastic-depth drop rate of the last block (default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For an unknown depth or invalid groups, width, stride position or rate.
    """
    return imagenet_resnet(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, depth=depth,
        shortcut="B", stride_at=stride_at, groups=groups, width_per_group=width_per_group,
        drop_path_rate=drop_path_rate,
    )
