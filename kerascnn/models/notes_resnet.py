"""A CIFAR ResNet of the lecture notes' `residual_block` (see kerascnn.blocks.notes_residual).

The notes port He et al. (2015) to TensorFlow; this network stacks their block the way the paper's
section 4.2 stacks its blocks for CIFAR-10.
"""

from __future__ import annotations

import keras

from kerascnn.blocks.notes_residual import notes_conv2d, notes_residual_block
from kerascnn.heads import classifier_head
from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.registry import register_family
from kerascnn.specs import resnet as spec

__all__ = ["notes_resnet"]

_CIFAR = (32, 32, 3)


@register_family("notes_resnet", spec.NOTES_VARIANTS, input_shape=_CIFAR, num_classes=10)
def notes_resnet(
    num_classes: int = 10,
    input_shape: tuple = _CIFAR,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "notes_resnet20",
    depth: int = 20,
) -> keras.Model:
    """A CIFAR-10 ResNet of the lecture notes' residual blocks (He et al. 2015, section 4.2 layout).

    conv1: the notes' `conv2d` (3x3, 16 filters, no bias) with batch norm and ReLU; three stages
    of n = (depth - 2) / 6 `residual_block`s with 16, 32 and 64 filters, the first block of the
    second and third stage subsampling (stride 2, 3x3 projection shortcut); global average pooling
    and the classifier. Differs from `resnet20` where the notes differ from the paper: a 3x3
    stride-2 convolution (not zero padding) on subsampling shortcuts, a bias on each block's second
    convolution, "SAME" padding and truncated-normal initialisation.

    Args:
        num_classes: Number of classes (default 10).
        input_shape: Default (32, 32, 3).
        include_top: Whether to add global pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: 6n + 2 (default 20).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: If `depth` is not 6n + 2.
    """
    blocks = spec.check_cifar_depth(depth)
    inputs = keras.Input(shape=input_shape, name="input")
    stem = spec.CIFAR_WIDTHS[0]
    x = notes_conv2d(inputs, input_shape[-1], stem, 3, 1, "SAME", False, name="conv1_conv")
    x = BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    n_in = stem
    for stage, n_out in enumerate(spec.CIFAR_WIDTHS, start=2):
        for index in range(1, blocks + 1):
            subsample = index == 1 and stage > 2
            x = notes_residual_block(x, n_in, n_out, subsample, name=f"conv{stage}_block{index}")
            n_in = n_out
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
