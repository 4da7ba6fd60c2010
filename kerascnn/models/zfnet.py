"""ZFNet, the ILSVRC 2013 network of Zeiler and Fergus.

M. D. Zeiler, R. Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.
"""

from __future__ import annotations

import math

import keras

from kerascnn import validation
from kerascnn.heads import fully_connected_head
from kerascnn.layers import CeilModePooling2D, LocalResponseNormalization
from kerascnn.registry import register_family
from kerascnn.specs import zfnet as spec

__all__ = ["zfnet"]


def _radius_constraint(layer: spec.ConvLayer, channels: int, radius: float | None):
    """Keeps each filter's RMS at most `radius`: an L2 norm of radius * sqrt(its size)."""
    if radius is None:
        return None
    size = layer.kernel * layer.kernel * channels
    return keras.constraints.MaxNorm(radius * math.sqrt(size), axis=[0, 1, 2])


@register_family("zfnet", spec.VARIANTS, input_shape=(224, 224, 3))
def zfnet(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    dropout_rate: float = spec.DROPOUT_RATE,
    filter_radius: float | None = spec.FILTER_RADIUS,
    name: str = "zfnet",
) -> keras.Model:
    """Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks" (ZFNet).

    Figure 3's network: AlexNet with a 7x7/2 first layer of 96 filters (for AlexNet's 11x11/4)
    and a 5x5/2 second layer, on one GPU (no grouped convolutions). Feature maps 110 -> 55 -> 26
    -> 13 -> 13 -> 13 -> 6 at 224x224; ReLU everywhere, 3x3/2 max pooling after layers 1, 2 and
    5, contrast normalization across feature maps after the pooling of layers 1 and 2, dropout
    0.5 after FC6 and FC7: 62,357,608 parameters with 1000 classes. Each convolution filter's RMS
    is held at most 0.1 (section 3), as a `MaxNorm` constraint applied after every update.

    Deviations: the paper gives no constants for its contrast normalization; AlexNet's local
    response normalization (k=2, n=5, alpha=1e-4, beta=0.75) is used. The figure's sizes need
    conv1 padded by 1 pixel and the first two poolings rounded up, as Caffe rounds
    (`kerascnn.layers.CeilModePooling2D`); the paper does not state its padding.

    Args:
        num_classes: Number of classes (default 1000).
        input_shape: Default (224, 224, 3).
        include_top: Whether to add FC6, FC7 and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions`.
        dropout_rate: Dropout after FC6 and FC7 (default 0.5).
        filter_radius: Largest RMS of a convolution filter (default 0.1), or None for no limit.
        name: Model name.

    Returns:
        A functional `keras.Model`.

    Raises:
        ValueError: If `dropout_rate` is not in [0, 1) or `filter_radius` is not a positive
            number or None.
    """
    validation.check_fraction(dropout_rate, "dropout_rate")
    if filter_radius is not None and not (
        isinstance(filter_radius, (int, float)) and not isinstance(filter_radius, bool)
        and filter_radius > 0
    ):
        raise ValueError(
            f"filter_radius must be a number > 0 or None. Received: filter_radius={filter_radius!r}"
        )
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for layer in spec.CONVOLUTIONS:
        padding = layer.padding
        if isinstance(padding, int):
            x = keras.layers.ZeroPadding2D(padding, name=f"{layer.name}_pad")(x)
            padding = "valid"
        constraint = _radius_constraint(layer, x.shape[-1], filter_radius)
        x = keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.strides,
                                padding=padding, kernel_constraint=constraint,
                                name=f"{layer.name}_conv")(x)
        x = keras.layers.ReLU(name=f"{layer.name}_relu")(x)
        if layer.pool:
            x = CeilModePooling2D("max", spec.POOL_SIZE, spec.POOL_STRIDES,
                                  name=f"{layer.name}_pool")(x)
        if layer.lrn:
            x = LocalResponseNormalization(**spec.LRN, name=f"{layer.name}_lrn")(x)
    x = fully_connected_head(
        x, groups=[(group, spec.FC_UNITS) for group in spec.FULLY_CONNECTED], dense_suffix="_dense",
        dropout_rate=dropout_rate, include_top=include_top, pooling=pooling,
        num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
