"""Pretrained weights: sources as data, and loading with checks.

A model's `weights` argument is None, the name of a source registered for that model
(`"imagenet"`), or the path of a weights file (`.weights.h5` as `model.save_weights` writes it,
or a `.keras` file whose weights are taken).
"""

from __future__ import annotations

import dataclasses

import keras

__all__ = ["WeightSource", "SOURCES", "load_into"]


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """Where a set of pretrained weights lives and what it can serve.

    Attributes:
        url: Download location of the file.
        sha256: Hex digest the downloaded file must have.
        include_top: Whether the file holds the classifier (and so fixes `num_classes`).
        num_classes: Classes of the file's classifier.
        preprocessing: How inputs must be prepared (`"caffe"`, `"torch"`, `"tf"`).
    """

    url: str
    sha256: str
    include_top: bool
    num_classes: int
    preprocessing: str


# {model name: {source name: (with-top source, without-top source)}}; filled by the families that
# have published weights.
SOURCES: dict[str, dict[str, tuple[WeightSource, WeightSource]]] = {}


def load_into(model: keras.Model, entry, weights: str, common: dict) -> None:
    """Loads `weights` (a source name or a file path) into the freshly built `model`.

    Raises:
        ValueError: If the source cannot serve the requested head, or the file does not match.
    """
    if weights in entry.weights:
        raise ValueError(
            f"No download location is recorded for weights={weights!r} of {entry.name!r}."
        )
    try:
        if weights.endswith(".keras"):
            source = keras.saving.load_model(weights, compile=False)
            model.set_weights(source.get_weights())
        else:
            model.load_weights(weights)
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"The weights file does not fit {entry.name!r} as built ({error}). "
            f"Received: weights={weights!r}"
        ) from error
