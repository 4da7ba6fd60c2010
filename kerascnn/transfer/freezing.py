"""Freezing by block group, a fresh head for new classes, and feature extraction from any group.

All three work on kerascnn's layer names (`{group}_{...}`, head layers `head_*` and `predictions`),
never on layer indices, so they keep working when a family gains a layer, and they read
keras.applications models too (`conv4_block6_out` is in group `conv4`).
"""

from __future__ import annotations

import keras

from kerascnn.groups import block_groups

__all__ = ["backbone_groups", "trainable_groups_for", "freeze", "replace_head", "features"]


def backbone_groups(model: keras.Model) -> list[str]:
    """The model's groups that hold layers of the network proper: not the input, not the head."""
    return [g for g in block_groups(model) if g not in ("input", "head")]


def trainable_groups_for(model: keras.Model, freeze_until) -> list[str]:
    """The backbone groups that train when the groups before `freeze_until` are frozen.

    Args:
        model: A model with kerascnn block-group names.
        freeze_until: A group name (`"conv4"`: every group before it is frozen, it and the later
            ones train), or an int `k` (the last `k` backbone groups train; 0 freezes them all,
            which leaves a linear classifier on the top features).

    Raises:
        ValueError: For an unknown group or a count out of range, listing the model's groups.
    """
    groups = backbone_groups(model)
    if isinstance(freeze_until, bool) or not isinstance(freeze_until, (int, str)):
        raise ValueError(
            "freeze_until must be a block group name or a number of groups from the top. "
            f"Received: freeze_until={freeze_until!r}"
        )
    if isinstance(freeze_until, int):
        if not 0 <= freeze_until <= len(groups):
            raise ValueError(
                f"freeze_until must count between 0 and {len(groups)} groups from the top "
                f"({', '.join(groups)}). Received: freeze_until={freeze_until}"
            )
        return groups[len(groups) - freeze_until:]
    if freeze_until not in groups:
        raise ValueError(
            f"freeze_until must name one of the model's block groups ({', '.join(groups)}). "
            f"Received: freeze_until={freeze_until!r}"
        )
    return groups[groups.index(freeze_until):]


def freeze(model: keras.Model, trainable_groups, train_head: bool = True) -> list[str]:
    """Sets `trainable` per block group: only `trainable_groups` (and the head) train.

    A frozen `BatchNormalization` layer runs in inference mode in Keras 3 (its moving mean and
    variance stay as they are, keras-team/keras#9965), so freezing a group also freezes its
    statistics. Recompile the model after changing what trains.

    Args:
        model: The model to change in place.
        trainable_groups: Names of the backbone groups that train.
        train_head: Whether the head trains (default True).

    Returns:
        The names of the frozen groups, in order.
    """
    trainable = set(trainable_groups) | ({"head"} if train_head else set())
    frozen = []
    model.trainable = True
    for group, layers in block_groups(model).items():
        for layer in layers:
            layer.trainable = group in trainable
        if group not in trainable and group != "input":
            frozen.append(group)
    return frozen


def _predictions_layer(model: keras.Model) -> keras.layers.Layer:
    try:
        layer = model.get_layer("predictions")
    except ValueError:
        layer = None
    if not isinstance(layer, keras.layers.Dense):
        dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
        if not dense or dense[-1].output is not model.outputs[0]:
            raise ValueError(
                "The model must end with a Dense classifier (kerascnn's `predictions`) to take a "
                f"new head. Received: model={model.name!r} ending with "
                f"{model.layers[-1].__class__.__name__} {model.layers[-1].name!r}"
            )
        layer = dense[-1]
    return layer


def replace_head(model: keras.Model, num_classes: int, activation="softmax") -> keras.Model:
    """A model sharing `model`'s layers up to the classifier, with a fresh `predictions` layer.

    The notes' recipe: "Reinitialize this and train" — only the last fully connected layer is new,
    initialized as `kerascnn.heads` initializes every classifier.

    Args:
        model: A classifier ending with a Dense `predictions` layer.
        num_classes: Width of the new classifier.
        activation: Its activation (default "softmax").

    Returns:
        A new functional `keras.Model` (same name); the layers below the head are shared.
    """
    from kerascnn.heads import predictions

    old = _predictions_layer(model)
    outputs = predictions(old.input, num_classes, activation)
    return keras.Model(model.input, outputs, name=model.name)


def features(model: keras.Model, groups, pooling: str | None = None) -> keras.Model:
    """A model that outputs the feature maps at the end of the named block groups.

    Like timm's `features_only`: the output of each group's last layer, for linear classifiers on
    different stages (the notes' "very different dataset, very little data" case) or for dense
    prediction heads.

    Args:
        model: A model with kerascnn block-group names.
        groups: A group name or a list of them (`["conv3", "conv4"]`).
        pooling: None (maps, `(B, H, W, C)`), "avg" or "max" (global pooling to `(B, C)`).

    Returns:
        A `keras.Model` whose output is a dict `{group: tensor}`, sharing `model`'s weights.

    Raises:
        ValueError: For an unknown group (the message lists the model's groups) or pooling.
    """
    if isinstance(groups, str):
        groups = [groups]
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    available = block_groups(model)
    names = [g for g in available if g != "input"]
    if not groups or any(g not in names for g in groups):
        raise ValueError(
            f"groups must name block groups of {model.name!r} ({', '.join(names)}). "
            f"Received: groups={list(groups)!r}"
        )
    outputs = {}
    for group in groups:
        x = available[group][-1].output
        if pooling is not None and len(x.shape) == 4:
            pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else \
                keras.layers.GlobalMaxPooling2D
            x = pool(name=f"features_{group}_{pooling}_pool")(x)
        outputs[group] = x
    return keras.Model(model.input, outputs, name=f"{model.name}_features")
