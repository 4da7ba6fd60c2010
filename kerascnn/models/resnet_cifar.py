"""The CIFAR-10 ResNets of He et al. (2015), section 4.2, and their plain twins (figure 6).

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), section 4.2: 6n + 2 layers on 32x32 inputs.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks.residual import basic_block, conv_bn
from kerascnn.heads import classifier_head
from kerascnn.layers.stochastic_depth import linear_drop_rates
from kerascnn.registry import register_model
from kerascnn.specs import resnet as spec

__all__ = ["resnet_cifar", "plain_cifar", "cifar_network", "check_cifar_depth"]

_CIFAR = (32, 32, 3)


def check_cifar_depth(depth, layers_per_block: int = 2, extra_layers: int = 2) -> int:
    """Returns the blocks per stage for `depth`, or raises a ValueError naming the valid form."""
    validation.check_positive_int(depth, "depth")
    blocks = spec.cifar_blocks_per_stage(depth, layers_per_block, extra_layers)
    if not blocks:
        step = 3 * layers_per_block
        first = step + extra_layers
        raise ValueError(
            f"depth must be {step}n + {extra_layers} with n >= 1 ({first}, {first + step}, "
            f"{first + 2 * step} ...). Received: depth={depth!r}"
        )
    return blocks


def cifar_network(
    *,
    num_classes: int,
    input_shape: tuple,
    include_top: bool,
    pooling,
    classifier_activation,
    name: str,
    depth: int,
    shortcut: str | None,
    drop_path_rate: float,
    block=basic_block,
) -> keras.Model:
    """The section 4.2 graph with `block(x, filters, strides, shortcut_option=, drop_rate=, name=)`.

    Stem `conv1` (3x3, 16, batch norm, ReLU), stages `conv2` to `conv4` of n blocks with 16, 32 and
    64 filters (32x32, 16x16, 8x8 maps on CIFAR), global average pooling and the classifier.
    """
    blocks = check_cifar_depth(depth)
    validation.check_choice(shortcut, "shortcut", ("A", "B", "C", None))
    validation.check_fraction(drop_path_rate, "drop_path_rate")
    rates = iter(linear_drop_rates(drop_path_rate, 3 * blocks))
    inputs = keras.Input(shape=input_shape, name="input")
    x = conv_bn(inputs, spec.CIFAR_WIDTHS[0], 3, name="conv1")
    for stage, filters in enumerate(spec.CIFAR_WIDTHS, start=2):
        for index in range(1, blocks + 1):
            strides = 2 if index == 1 and stage > 2 else 1
            x = block(x, filters, strides, shortcut_option=shortcut, drop_rate=next(rates),
                      name=f"conv{stage}_block{index}")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


def _register_depths(names_and_depths, family: str, **defaults):
    def decorator(builder):
        for model_name, depth in names_and_depths:
            register_model(model_name, family=family, input_shape=_CIFAR, num_classes=10,
                           depth=depth, **defaults)(builder)
        return builder

    return decorator


@_register_depths([(f"resnet{d}", d) for d in spec.CIFAR_DEPTHS], family="resnet_cifar")
def resnet_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnet20",
    depth: int = 20,
    shortcut: str = "A",
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

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 6n + 2 (default 20).
        shortcut: "A" (default), "B" (1x1 projections with batch norm where the shape changes)
            or "C" (projections everywhere).
        drop_path_rate: Stochastic-depth drop rate of the last block, decaying linearly to the
            first (Huang et al. 2016 use 0.5 on the 110-layer network; default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` is not 6n + 2, or `shortcut` or `drop_path_rate` is invalid.
    """
    return cifar_network(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, depth=depth,
        shortcut=shortcut, drop_path_rate=drop_path_rate,
    )


@_register_depths([(f"plain{d}", d) for d in spec.PLAIN_DEPTHS], family="plain_cifar")
def plain_cifar(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "plain20",
    depth: int = 20,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """The plain CIFAR-10 networks of He et al. (2015), section 4.2 and figure 6 (left).

    The ResNets of `resnet_cifar` without shortcuts: 6n + 2 stacked 3x3 convolutions with batch
    norm and ReLU, for the degradation experiment (deeper plain networks train to a higher
    error). Names `plain20` ... `plain110`; same parameter counts as the residual twins with
    option A shortcuts.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 6n + 2 (default 20).
        drop_path_rate: Only 0: without shortcuts, stochastic depth would cut the network.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` is not 6n + 2, or `drop_path_rate` is not 0.
    """
    if drop_path_rate != 0:
        raise ValueError(
            "Plain networks have no shortcuts, so dropping a block would cut the network in two; "
            "stochastic depth needs a residual network. "
            f"Received: drop_path_rate={drop_path_rate!r}"
        )
    return cifar_network(
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, name=name, depth=depth,
        shortcut=None, drop_path_rate=0.0,
    )
