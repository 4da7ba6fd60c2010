"""Network in Network: mlpconv blocks and global average pooling in place of fully connected layers.

M. Lin, Q. Chen, S. Yan, "Network In Network", ICLR 2014.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.heads import classifier_head
from kerascnn.layers import CeilModePooling2D
from kerascnn.registry import register_family
from kerascnn.specs import nin as spec

__all__ = ["nin"]


def _conv(x, filters, kernel, strides=1, padding="same", *, name, dtype=None):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, dtype=dtype,
                            name=f"{name}_conv")(x)
    return keras.layers.ReLU(dtype=dtype, name=f"{name}_relu")(x)


@register_family("nin", spec.VARIANTS, input_shape=(224, 224, 3))
def nin(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    layout: str = "imagenet",
    dropout_rate: float = spec.DROPOUT_RATE,
    class_map_relu: bool = False,
    name: str = "nin",
) -> keras.Model:
    """Lin, Chen & Yan 2014, "Network In Network": mlpconv blocks and global average pooling.

    Each mlpconv block is a convolution and two 1x1 convolutions with ReLUs
    (`mlpconv{i}_conv`, `mlpconv{i}_cccp1_conv`, `mlpconv{i}_cccp2_conv`). The last block's
    second 1x1 convolution makes one map per class, global average pooling averages each map to
    a score, and `classifier_activation` turns the scores into probabilities: no fully connected
    layer between features and classes.

    `nin_cifar` (`layout="cifar"`) is the paper's CIFAR-10 network with three mlpconv blocks,
    `nin_imagenet` (`layout="imagenet"`) the four-block ImageNet model its authors released, both
    with the layers of the authors' Caffe model zoo definitions (`kerascnn.specs.nin`):
    966,986 and 7,586,536 parameters. Pooling rounds up as Caffe's does
    (`kerascnn.layers.CeilModePooling2D`): 224 -> 54 -> 27 -> 13 -> 6 and 32 -> 16 -> 8.

    A 1x1 convolution followed by global average pooling computes what global average pooling
    followed by a dense layer with the same weights computes, so by default the class maps are
    built in that order (`head_avg_pool`, then the `predictions` layer every kerascnn classifier
    ends with, which fine-tuning replaces); the parameters are the same. The authors'
    definitions also pass the class maps through a ReLU before averaging (relu12 of the ImageNet
    prototxt), which breaks that equivalence: `class_map_relu=True` builds their head exactly
    (`predictions_conv`, `predictions_relu`, `head_avg_pool`, then the activation as
    `predictions`), which `kerascnn.fine_tune` cannot re-head (build it with
    `include_top=False` instead).

    Deviations: by default no ReLU on the class scores (above); the definitions' Gaussian
    initial weights (standard deviations 0.01 and 0.05) are Keras's Glorot uniform here.
    `include_top=False` ends after the last block's first 1x1 convolution, the widest layer
    before the class maps.

    Args:
        num_classes: Number of classes, the width of the last 1x1 convolution (default 1000;
            10 for `nin_cifar`).
        input_shape: Default (224, 224, 3); (32, 32, 3) for `nin_cifar`.
        include_top: Whether to add the class maps, their pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of the pooled class scores (default "softmax"; None for
            the scores themselves).
        layout: "imagenet" (default) or "cifar".
        dropout_rate: Dropout after the blocks the definitions mark (default 0.5).
        class_map_relu: Build the class maps as a 1x1 convolution with a ReLU before the
            averaging, as the authors' definitions do (default False: see above).
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: For an unknown `layout`, a `dropout_rate` outside [0, 1) or a non-boolean
            `class_map_relu`.
    """
    validation.check_choice(layout, "layout", tuple(spec.LAYOUTS))
    validation.check_fraction(dropout_rate, "dropout_rate")
    validation.check_bool(class_map_relu, "class_map_relu")
    blocks = spec.LAYOUTS[layout]
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for index, block in enumerate(blocks, start=1):
        prefix = f"mlpconv{index}"
        x = _conv(x, block.filters, block.kernel, block.strides, block.padding, name=prefix)
        for position, width in enumerate(block.cccp, start=1):
            if width is None:
                break
            x = _conv(x, width, 1, name=f"{prefix}_cccp{position}")
        if block.pool:
            x = CeilModePooling2D(block.pool, spec.POOL_SIZE, spec.POOL_STRIDES,
                                  name=f"{prefix}_pool")(x)
        if block.dropout and dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{prefix}_dropout")(x)
    if not include_top:
        x = classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                            classifier_activation=None)
        return keras.Model(inputs, x, name=name)
    if not class_map_relu:
        x = classifier_head(x, include_top=True, pooling=None, num_classes=num_classes,
                            classifier_activation=classifier_activation)
        return keras.Model(inputs, x, name=name)
    # The class maps compute in float32, like every classifier here, for mixed precision.
    x = _conv(x, num_classes, 1, name="predictions", dtype="float32")
    x = keras.layers.GlobalAveragePooling2D(dtype="float32", name="head_avg_pool")(x)
    if classifier_activation is not None:
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
