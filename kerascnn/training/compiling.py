"""A recipe's loss, metrics and data-side regularizers, shared by `train` and `fine_tune`.

With label smoothing or mixing, labels are one-hot (soft) and the loss is Keras's
`CategoricalCrossentropy(label_smoothing=...)` (its sparse counterpart has no smoothing); the
validation labels are made one-hot too, so that one set of metrics reads both.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kerascnn.data import regularizers
from kerascnn.training.recipe import Recipe

__all__ = ["MAIN_OUTPUT", "outputs_logits", "compile_model", "image_transform",
           "batch_transform", "for_outputs", "mix_stop_epoch"]

MAIN_OUTPUT = "predictions"


def outputs_logits(model) -> bool:
    """True unless the output layer applies a softmax (models built with
    `classifier_activation=None` give logits)."""
    layer = model.get_layer(model.output_names[0]) if model.output_names else model.layers[-1]
    if isinstance(layer, keras.layers.Softmax):
        return False
    return getattr(getattr(layer, "activation", None), "__name__", "") != "softmax"


def _loss(recipe: Recipe, from_logits: bool):
    if recipe.soft_labels:
        return keras.losses.CategoricalCrossentropy(
            from_logits=from_logits, label_smoothing=recipe.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def _metrics(recipe: Recipe, num_classes: int) -> list:
    if recipe.soft_labels:
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        top5 = keras.metrics.TopKCategoricalAccuracy(k=5, name="top5_accuracy")
    else:
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy")
    return metrics + [top5] * (num_classes > 5)


def compile_model(model, recipe: Recipe, optimizer, num_classes: int, jit_compile,
                  steps_per_execution: int = 1) -> list[str]:
    """Compiles `model` with the recipe's loss and `optimizer`; returns the loss-carrying output
    names (auxiliary classifiers weighted by `recipe.aux_loss_weights`)."""
    names = list(model.output_names)
    metrics = _metrics(recipe, num_classes)
    common = {"optimizer": optimizer, "jit_compile": jit_compile,
              "steps_per_execution": steps_per_execution}
    if len(names) == 1:
        model.compile(loss=_loss(recipe, outputs_logits(model)), metrics=metrics, **common)
        return names
    if MAIN_OUTPUT not in names:
        raise ValueError(f"A multi-output model needs a '{MAIN_OUTPUT}' output. "
                         f"Received: outputs={names}")
    aux = [n for n in names if n != MAIN_OUTPUT]
    weights = list(recipe.aux_loss_weights) or [0.3] * len(aux)
    if len(weights) != len(aux):
        raise ValueError(f"The recipe has {len(weights)} auxiliary loss weights for {len(aux)} "
                         f"auxiliary outputs. Received: outputs={names}")
    model.compile(
        loss={n: _loss(recipe, False) for n in names},
        loss_weights={MAIN_OUTPUT: 1.0, **dict(zip(aux, weights))},
        metrics={MAIN_OUTPUT: metrics},
        **common,
    )
    return names


def mix_stop_epoch(recipe: Recipe, epochs: int) -> int | None:
    """The epoch at which mixing stops in a run of `epochs` (the recipe's, moved in proportion)."""
    if not recipe.mixes or recipe.mix_stop_epoch is None:
        return None
    return int(round(recipe.mix_stop_epoch * epochs / recipe.epochs))


def image_transform(recipe: Recipe, seed: int):
    """The recipe's per-image regularizers for `kerascnn.data.load(image_transform=...)`."""
    return regularizers.image_transform(
        auto_augment=recipe.auto_augment, ops=recipe.auto_augment_ops,
        magnitude=recipe.auto_augment_magnitude, erasing=recipe.random_erasing,
        erasing_fill=recipe.erasing_fill, seed=seed)


def batch_transform(recipe: Recipe, num_classes: int, seed: int, epochs: int):
    """`(function of a dataset of training batches or None, callbacks for fit)`: the function
    maps one-hot labels, mixup and cutmix over the batches (each its own seed), the callback
    stops mixing."""
    stop = mix_stop_epoch(recipe, epochs)
    switch = regularizers.MixingSwitch(stop) if stop is not None else None
    transform = regularizers.batch_transform(
        num_classes, soft_labels=recipe.soft_labels, mixup_alpha=recipe.mixup_alpha,
        cutmix_alpha=recipe.cutmix_alpha, probability=recipe.mix_probability,
        switch_probability=recipe.switch_probability, switch=switch, seed=seed)
    if transform is None:
        return None, []

    def apply(batches):
        return regularizers.map_seeded(batches, transform, seed,
                                         stream=regularizers.BATCH_SEEDS)

    return apply, [switch] if switch else []


def for_outputs(dataset, names: list[str], one_hot_classes: int | None = None):
    """The dataset with labels for every output (and one-hot when `one_hot_classes` is given
    and they are still sparse)."""
    if dataset is None:
        return None
    if one_hot_classes:
        def one_hot(x, y):
            if y.shape.rank == 1:
                y = tf.one_hot(tf.cast(y, tf.int32), one_hot_classes, dtype=tf.float32)
            return x, y

        dataset = dataset.map(one_hot)
    if len(names) == 1:
        return dataset
    return dataset.map(lambda x, y: (x, {n: y for n in names}))
