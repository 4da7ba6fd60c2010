"""The CIFAR-10 ResNets of He et al. (2015), section 4.2, and their plain twins (figure 6).

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), section 4.2: 6n + 2 layers on 32x32 inputs. The plain networks are the same
builder without shortcuts (`shortcut=None`).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.residual import basic_block, conv_bn
from kerascnn.heads import classifier_head
from kerascnn.layers.stochastic_depth import linear_drop_rates
from kerascnn.registry import register_family
from kerascnn.specs import resnet as spec

__all__ = ["resnet_cifar"]

_CIFAR = (32, 32, 3)


@register_family("resnet_cifar", spec.CIFAR_VARIANTS, input_shape=_CIFAR, num_classes=10)
@register_family("plain_cifar", spec.PLAIN_VARIANTS, input_shape=_CIFAR, num_classes=10)
def resnet_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnet20",
    depth: int = 20,
    shortcut: str | None = "A",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """ResNet for CIFAR-10 (He et al. 2015, section 4.2): 6n + 2 layers, 16-32-64 filters.

    A 3x3 convolution with 16 filters, three stages of n basic blocks (2n 3x3 layers) with 16, 32
    and 64 filters on 32x32, 16x16 and 8x8 maps (the first block of the second and third stage
    strides by 2), global average pooling and a 10-way fully connected layer. The paper's
    depths are registered as `resnet20`, `resnet32`, `resnet44`, `resnet56`, `resnet110` and
    `resnet1202` (n = 3, 5, 7, 9, 18, 200); trainable parameters 269,722 / 464,154 / 658,586 /
    853,018 / 1,727,962 / 19,421,274 with option A (the paper: 0.27M ... 1.7M, 19.4M).

    Shortcuts are identities, with option A (zero padding, no parameters) where the shape
    changes, "so all residual models have exactly the same number of parameters as their plain
    counterparts". Convolutions are He-initialised and bias-free (batch norm follows each).

    `shortcut=None` gives the plain networks of the degradation experiment (figure 6, left):
    `plain20` ... `plain110`, 6n + 2 stacked 3x3 convolutions with batch norm and ReLU, with the
    same parameter counts as their residual twins with option A.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 6n + 2 (default 20).
        shortcut: "A" (default), "B" (1x1 projections with batch norm where the shape changes),
            "C" (projections everywhere) or None (no shortcuts: the plain network).
        drop_path_rate: Stochastic-depth drop rate of the last block, decaying linearly to the
            first (Huang et al. 2016 use 0.5 on the 110-layer network; default 0). Only 0 without
            shortcuts: dropping a block would cut a plain network in two.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` is not 6n + 2, `shortcut` is unknown, or `drop_path_rate` is
            outside [0, 1) or nonzero without shortcuts.
    """
    blocks = spec.check_cifar_depth(depth)
    validation.check_choice(shortcut, "shortcut", ("A", "B", "C", None))
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    if shortcut is None and drop_path_rate != 0:
        raise ValueError(
            "Plain networks have no shortcuts, so dropping a block would cut the network in two; "
            "stochastic depth needs a residual network. "
            f"Received: drop_path_rate={drop_path_rate!r}"
        )
    rates = iter(linear_drop_rates(drop_path_rate, 3 * blocks))
    inputs = keras.Input(shape=input_shape, name="input")
    x = conv_bn(inputs, spec.CIFAR_WIDTHS[0], 3, name="conv1")
    for stage, filters in enumerate(spec.CIFAR_WIDTHS, start=2):
        for index in range(1, blocks + 1):
            strides = 2 if index == 1 and stage > 2 else 1
            x = basic_block(x, filters, strides, shortcut_option=shortcut, drop_rate=next(rates),
                            name=f"conv{stage}_block{index}")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
