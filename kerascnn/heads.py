"""The one classifier head every builder ends with.

`include_top=True` gives (optional global pooling or flattening) -> (optional dropout) ->
`predictions`, a Dense layer with `classifier_activation`. `include_top=False` gives the backbone's
feature map, optionally reduced by global `pooling` ("avg" or "max") to a feature vector. Layer names
start with `head_` (and the last is `predictions`) so the head is one block group.
"""

from __future__ import annotations

import keras

__all__ = ["classifier_head", "fully_connected_head", "predictions"]


def predictions(x, num_classes: int, classifier_activation, name: str = "predictions"):
    """The final Dense layer. It computes in float32 so softmax stays stable under mixed precision."""
    return keras.layers.Dense(
        num_classes, activation=classifier_activation, dtype="float32", name=name
    )(x)


def classifier_head(
    x,
    *,
    include_top: bool,
    pooling: str | None,
    num_classes: int,
    classifier_activation,
    dropout_rate: float = 0.0,
    top_reduction: str | None = "avg",
):
    """Adds the shared head to the feature map `x`.

    Args:
        x: Backbone output, `(batch, H, W, C)` (or already flat when `top_reduction=None`).
        include_top: Build the classifier; otherwise return features.
        pooling: With `include_top=False`: None (the feature map), "avg" or "max" (a vector).
        num_classes: Width of `predictions`.
        classifier_activation: Activation of `predictions` (None gives logits).
        dropout_rate: Dropout before `predictions` (GoogLeNet's 0.4, for example).
        top_reduction: How the classifier flattens the map: "avg" (global average pooling),
            "flatten" (LeNet, VGG, AlexNet), or None when `x` is already flat.

    Returns:
        The head's output tensor.
    """
    if not include_top:
        if pooling == "avg":
            return keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
        if pooling == "max":
            return keras.layers.GlobalMaxPooling2D(name="head_max_pool")(x)
        return x
    if top_reduction == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    elif top_reduction == "flatten":
        x = keras.layers.Flatten(name="head_flatten")(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate, name="head_dropout")(x)
    return predictions(x, num_classes, classifier_activation)


def fully_connected_head(
    x,
    *,
    groups,
    dense_suffix: str = "",
    dropout_rate: float,
    include_top: bool,
    pooling: str | None,
    num_classes: int,
    classifier_activation,
):
    """The classic top of AlexNet, ZFNet and VGG: flatten, fully connected ReLU layers (each
    followed by dropout when `dropout_rate` > 0), then `predictions` (Krizhevsky et al. 2012,
    section 3.5). With `include_top=False`, the shared head's features instead.

    Args:
        x: The last feature map.
        groups: `(group name, units)` per fully connected layer: `(("fc6", 4096), ("fc7", 4096))`;
            layers are named `{group}{dense_suffix}` and `{group}_dropout`, the flattening
            `{first group}_flatten`.
        dense_suffix: Appended to each group name for its Dense layer ("_dense", or "").
        dropout_rate: Dropout after each fully connected layer.
        include_top, pooling, num_classes, classifier_activation: As `classifier_head`.
    """
    if not include_top:
        return classifier_head(x, include_top=False, pooling=pooling, num_classes=num_classes,
                               classifier_activation=None)
    x = keras.layers.Flatten(name=f"{groups[0][0]}_flatten")(x)
    for group, units in groups:
        x = keras.layers.Dense(units, activation="relu", name=f"{group}{dense_suffix}")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"{group}_dropout")(x)
    return classifier_head(x, include_top=True, pooling=None, num_classes=num_classes,
                           classifier_activation=classifier_activation, top_reduction=None)
