"""VGG: the configurations A, A-LRN, B, C, D and E of Simonyan & Zisserman (2015), and torchvision's
batch-normalized variants.

K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015.
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.heads import fully_connected_head
from kerascnn.layers import BatchNormalization, LocalResponseNormalization
from kerascnn.registry import register_family
from kerascnn.specs import vgg as spec

__all__ = ["vgg"]


def _conv(x, filters, kernel, batch_norm, name):
    if not batch_norm:
        return keras.layers.Conv2D(filters, kernel, padding="same", activation="relu", name=name)(x)
    x = keras.layers.Conv2D(filters, kernel, padding="same", name=name)(x)
    x = BatchNormalization(
        epsilon=spec.BN_EPSILON, momentum=spec.BN_MOMENTUM, name=f"{name}_bn"
    )(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


@register_family("vgg", spec.VARIANTS, input_shape=(224, 224, 3))
def vgg(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    config: str = "D",
    batch_norm: bool = False,
    dropout_rate: float = spec.DROPOUT_RATE,
    name: str = "vgg",
) -> keras.Model:
    """VGG (Simonyan & Zisserman 2015): one configuration of the paper's Table 1.

    Stacks of 3x3 convolutions (1x1 in C), stride 1 and padded, each with a ReLU; 2x2/2 max pooling
    after each of the five stages; FC-4096, FC-4096 (dropout 0.5 after each), FC-classes.
    Parameters at 224x224 with 1000 classes: A 132,863,336, B 133,047,848, C 133,638,952,
    D 138,357,544, E 143,667,240. A-LRN adds local response normalization after the first
    convolution. With `batch_norm=True` (torchvision's `vgg*_bn`, not in the paper) every
    convolution is followed by batch normalization before its ReLU.

    Layer and variable names and order follow keras.applications (`block1_conv1` ... `fc1`,
    `fc2`, `predictions`), so `vgg16` and `vgg19` take keras.applications VGG16/VGG19 weights.
    The dropout layers, which keras.applications leaves out, hold no weights.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3); at least 32x32.
        include_top: Whether to add the three fully connected layers.
        pooling: With `include_top=False`: None, "avg" or "max" (512 features).
        classifier_activation: Activation of `predictions`.
        config: One of "A", "A-LRN", "B", "C", "D", "E" (default "D").
        batch_norm: Whether to add batch normalization after every convolution.
        dropout_rate: Dropout after FC-4096 layers (default 0.5).
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: For an unknown `config`, a non-boolean `batch_norm`, or a `dropout_rate`
            outside [0, 1).
    """
    validation.check_choice(config, "config", tuple(spec.CONFIGS))
    validation.check_choice(batch_norm, "batch_norm", (False, True))
    validation.check_fraction(dropout_rate, "dropout_rate")
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for stage, layers in enumerate(spec.CONFIGS[config], start=1):
        convs = 0
        for layer in layers:
            if layer == spec.LRN:
                x = LocalResponseNormalization(**spec.LRN_PARAMETERS, name=f"block{stage}_lrn")(x)
                continue
            convs += 1
            kernel, filters = layer
            x = _conv(x, filters, kernel, batch_norm, f"block{stage}_conv{convs}")
        x = keras.layers.MaxPooling2D(spec.POOL_SIZE, strides=spec.POOL_SIZE,
                                      name=f"block{stage}_pool")(x)
    x = fully_connected_head(
        x, groups=[(f"fc{index}", units) for index, units in enumerate(spec.FC_UNITS, start=1)],
        dropout_rate=dropout_rate, include_top=include_top, pooling=pooling,
        num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
