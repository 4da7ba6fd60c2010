"""Block groups: the named, ordered units that freezing, feature extraction and layer-wise
learning rates work on.

Every kerascnn layer is named `{group}_{...}` (`conv3_block2_2_conv` is in group `conv3`,
`inception4a_3x3_reduce` in `inception4a`), and the head's layers (`head_*`, `predictions`) form
the group `head`. Groups are read from the layer names, so they survive saving and loading, and
the same convention reads keras.applications models (`conv4_block6_out` -> `conv4`).
"""

from __future__ import annotations

import collections

import keras

__all__ = ["group_of", "block_groups", "group_names"]

_HEAD_LAYERS = ("predictions",)


def group_of(layer_name: str) -> str:
    """The block group a layer belongs to, from its name."""
    if layer_name in _HEAD_LAYERS or layer_name.startswith("predictions"):
        return "head"
    return layer_name.split("_", 1)[0]


def block_groups(model: keras.Model) -> "collections.OrderedDict[str, list[keras.layers.Layer]]":
    """Maps each group name to its layers, groups in the order they first appear (input first)."""
    groups: collections.OrderedDict = collections.OrderedDict()
    for layer in model.layers:
        groups.setdefault(group_of(layer.name), []).append(layer)
    return groups


def group_names(model: keras.Model) -> list[str]:
    """The model's block group names in order: stem, stages or modules, head."""
    return list(block_groups(model))
