"""Fine-tuning in two phases, as the CS5242 notes' transfer-learning recipe has it.

1. Reinitialize the classifier for the new classes and train it alone, everything else frozen, at
   the base learning rate.
2. Unfreeze the later block groups and train them together with the head at a tenth of the base
   rate ("Lower learning rate when finetuning; 1/10 of original LR is good starting point"), the
   early groups staying frozen.

Freezing is by block group; frozen batch-norm layers run in inference mode, so their statistics
and every frozen weight leave training bit-identical. Phase 2's rates live in one optimizer
(`GroupLearningRates`), so the head may keep the base rate or the groups may follow a layer-wise
decay, and the whole thing saves with the model.
"""

from __future__ import annotations

import json
import os

import keras

from kerascnn import validation
from kerascnn.transfer.freezing import freeze, replace_head, trainable_groups_for
from kerascnn.transfer.optimizers import GroupLearningRates, layerwise_decay

__all__ = ["fine_tune", "prepare_data"]

OPTIMIZERS = ("sgd", "adam")


def _base_optimizer(name: str, learning_rate: float, momentum: float, clip_norm=None):
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum, global_clipnorm=clip_norm)
    return keras.optimizers.Adam(learning_rate, global_clipnorm=clip_norm)


def prepare_data(data, input_shape, *, batch_size=32, normalization="unit", augmentation=None,
                 validation_split=0.1, seed=0, verbose=0, image_transform=None):
    """`data` as a `kerascnn.data.DataBundle` (returned as is when it already is one)."""
    from kerascnn import data as data_lib

    if isinstance(data, data_lib.DataBundle):
        return data
    return data_lib.load(data, input_shape=tuple(input_shape), batch_size=batch_size,
                         normalization=normalization, augmentation=augmentation,
                         validation_split=validation_split, seed=seed, verbose=verbose,
                         image_transform=image_transform)


def _regularizing_recipe(recipe):
    """The recipe whose regularizers fine-tuning adds (None: none)."""
    if recipe is None:
        return None
    from kerascnn.training.recipes import get_recipe

    recipe = get_recipe(recipe)
    if recipe.ema_decay:
        raise ValueError(
            "fine_tune keeps no weight EMA; use a recipe without one "
            f"(recipe.replace(ema_decay=0)). Received: recipe={recipe.name!r} with "
            f"ema_decay={recipe.ema_decay}")
    return recipe


def _training_data(bundle, recipe, seed: int, epochs: int):
    """(train, validation, callbacks): the bundle's batches with the recipe's one-hot labels,
    mixup and cutmix."""
    if recipe is None:
        return bundle.train, bundle.validation, []
    from kerascnn.training import compiling

    transform, callbacks = compiling.batch_transform(recipe, bundle.num_classes, seed, epochs)
    train = bundle.train if transform is None else bundle.train.map(transform)
    one_hot = bundle.num_classes if recipe.soft_labels else None
    names = [compiling.MAIN_OUTPUT]
    return (compiling.for_outputs(train, names, one_hot),
            compiling.for_outputs(bundle.validation, names, one_hot), callbacks)


def _weights_normalization(model_or_name, weights) -> str:
    """The input preparation a named weight tag was trained with ("torch" ...), else "unit"."""
    if not isinstance(model_or_name, str) or not isinstance(weights, str):
        return "unit"
    from kerascnn.registry import get_entry
    from kerascnn.weight_sources import SOURCES

    files = SOURCES.get(get_entry(model_or_name).name, {}).get(weights)
    return files[0].preprocessing if files else "unit"


def _starting_model(model_or_name, weights, build_kwargs) -> keras.Model:
    if isinstance(model_or_name, str):
        from kerascnn.registry import build

        return build(model_or_name, weights=weights, **(build_kwargs or {}))
    if not isinstance(model_or_name, keras.Model):
        raise ValueError(
            "model_or_name must be a keras.Model or a registered model name. "
            f"Received: model_or_name={model_or_name!r}"
        )
    if weights is not None:
        raise ValueError(
            "weights applies to a model built by name; load them into a given model yourself. "
            f"Received: weights={weights!r}"
        )
    # Work on a copy: the caller's model keeps its weights and trainable flags.
    copy = keras.models.clone_model(model_or_name)
    copy.set_weights(model_or_name.get_weights())
    return copy


def _fit(model, optimizer, bundle, data, epochs, callbacks, verbose, jit_compile, recipe):
    import tensorflow as tf

    from kerascnn.training.xla import resolve_jit_compile

    steps = epochs * max(1, -(-bundle.train_examples // _batch_size(bundle)))
    jit = resolve_jit_compile(jit_compile, model, tf.distribute.get_strategy(), steps=steps)
    if recipe is None:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit)
    else:
        from kerascnn.training.compiling import compile_model

        compile_model(model, recipe, optimizer, bundle.num_classes, jit)
    train, validation, data_callbacks = data
    # The pipeline shuffles; Keras's own shuffle does not apply to datasets.
    history = model.fit(train, validation_data=validation, epochs=epochs,
                        callbacks=[*data_callbacks, *callbacks], verbose=verbose, shuffle=False)
    return history.history


def _batch_size(bundle) -> int:
    size = bundle.train.element_spec[0].shape[0]
    return int(size) if size else 32


def _check_rate(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    return float(value)


def fine_tune(
    model_or_name,
    data,
    *,
    freeze_until=1,
    weights=None,
    head_epochs: int = 5,
    epochs: int = 5,
    learning_rate: float = 0.01,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    head_factor: float = 0.1,
    block_factor: float = 0.1,
    layer_decay: float | None = None,
    batch_size: int = 32,
    normalization: str | None = None,
    augmentation=None,
    recipe=None,
    validation_split: float = 0.1,
    run_dir: str | None = None,
    callbacks=(),
    seed: int = 0,
    verbose: int = 1,
    jit_compile="auto",
    build_kwargs: dict | None = None,
    report: bool = True,
) -> keras.Model:
    """Adapts a trained network to new classes: new head first, then the later groups.

    CS5242 lecture notes, transfer learning (after cs231n; Yosinski et al., "How transferable are
    features in deep neural networks?", NIPS 2014).

    Args:
        model_or_name: A trained `keras.Model` (left unchanged: a copy is fine-tuned) or a
            registered model name (built with `weights` and `build_kwargs`).
        data: Anything `kerascnn.data.load` takes (an image folder, "digits", `(x, y)` arrays, a
            tfds name, a `tf.data.Dataset`) or a ready `kerascnn.data.DataBundle`.
        freeze_until: What trains in phase 2: a block group name (`"conv4"`: it and the later
            groups train, the earlier ones stay frozen) or a count of groups from the top (0: only
            the head, a linear classifier on the top features). Default 1.
        weights: With a model name: the weight source or file to start from.
        head_epochs: Phase 1 epochs (new head alone; default 5).
        epochs: Phase 2 epochs (default 5; 0 skips it).
        learning_rate: The base learning rate of phase 1 (default 0.01).
        optimizer: "sgd" (momentum `momentum`, default) or "adam".
        momentum: SGD momentum (default 0.9).
        head_factor: Phase 2 rate of the head, times `learning_rate` (default 0.1: the notes'
            tenth; 1.0 keeps the head at the base rate).
        block_factor: Phase 2 rate of the unfrozen groups, times `learning_rate` (default 0.1).
        layer_decay: Instead of `block_factor`, a layer-wise decay: the top unfrozen group trains
            at `head_factor * layer_decay`, the one below at `head_factor * layer_decay**2` ...
        normalization: How pixels in [0, 255] become inputs (`kerascnn.data.normalize`); default
            None: the preprocessing the weight tag was trained with (`kerascnn.weight_sources`:
            "torch" for torchvision's, "caffe" for BVLC's ...), else "unit". It is recorded in
            the run's config.json, so an export prepares raw images the same way.
        batch_size, augmentation, validation_split, seed: For `kerascnn.data.load`.
        recipe: None, or a recipe (name or `kerascnn.training.Recipe`) whose regularizers both
            phases add: label smoothing, mixup and cutmix, RandAugment / TrivialAugment, random
            erasing and gradient clipping ("small_data" for a few hundred images). Its optimizer,
            schedule and epochs do not apply: the phases above set those.
        run_dir: If given, writes `model.keras`, `config.json` (class names, normalization, the
            data spec, the plan), `history.json` and the run report (`report/report.html`) there.
        callbacks: Extra Keras callbacks for both phases.
        verbose: Keras verbosity (default 1: progress bars).
        jit_compile: "auto" (XLA where `kerascnn.training.xla` measured it to pay off: GPUs, and
            long runs of small CPU models), True or False.
        build_kwargs: Extra `kerascnn.build` arguments for a model given by name.
        report: bool, default True: with `run_dir`, write the run report (`kerascnn.report`).

    Returns:
        The fine-tuned `keras.Model` (compiled, with `GroupLearningRates` after phase 2).

    Raises:
        ValueError: For invalid arguments (an unknown group lists the model's groups).
        FileExistsError: If `run_dir` already holds a fine-tuned model.
    """
    validation.check_positive_int(head_epochs, "head_epochs", minimum=0)
    validation.check_positive_int(epochs, "epochs", minimum=0)
    validation.check_choice(optimizer, "optimizer", OPTIMIZERS)
    learning_rate = _check_rate(learning_rate, "learning_rate")
    head_factor = _check_rate(head_factor, "head_factor")
    block_factor = _check_rate(block_factor, "block_factor")
    if layer_decay is not None:
        _check_rate(layer_decay, "layer_decay")
    if run_dir is not None and os.path.exists(os.path.join(run_dir, "model.keras")):
        raise FileExistsError(
            f"run_dir already holds a fine-tuned model; choose another directory. "
            f"Received: run_dir={run_dir!r}"
        )
    recipe = _regularizing_recipe(recipe)
    model = _starting_model(model_or_name, weights, build_kwargs)
    if normalization is None:
        normalization = _weights_normalization(model_or_name, weights)
    trainable = trainable_groups_for(model, freeze_until)  # Fail on a bad group before any work.
    image_transform = None
    if recipe is not None:
        from kerascnn.training.compiling import image_transform as recipe_image_transform

        image_transform = recipe_image_transform(recipe, seed)
    bundle = prepare_data(data, model.inputs[0].shape[1:], batch_size=batch_size,
                          normalization=normalization, augmentation=augmentation,
                          validation_split=validation_split, seed=seed,
                          image_transform=image_transform)
    keras.utils.set_random_seed(seed)
    model = replace_head(model, bundle.num_classes)
    clip_norm = recipe.clip_norm if recipe is not None else None
    histories = {}
    if head_epochs:
        frozen = freeze(model, [])
        histories["head"] = _fit(
            model, _base_optimizer(optimizer, learning_rate, momentum, clip_norm), bundle,
            _training_data(bundle, recipe, seed, head_epochs), head_epochs, callbacks, verbose,
            jit_compile, recipe)
    if epochs and trainable:
        frozen = freeze(model, trainable)
        if layer_decay is not None:
            decay = layerwise_decay(model, layer_decay, head=head_factor)
            multipliers = {g: decay[g] for g in (*trainable, "head")}
        else:
            multipliers = {"head": head_factor, **{g: block_factor for g in trainable}}
        grouped = GroupLearningRates(
            _base_optimizer(optimizer, learning_rate, momentum, clip_norm), multipliers,
            default_multiplier=0.0)
        histories["fine_tune"] = _fit(model, grouped, bundle,
                                      _training_data(bundle, recipe, seed, epochs), epochs,
                                      callbacks, verbose, jit_compile, recipe)
    else:
        frozen = freeze(model, [])
    if run_dir is not None:
        _write_run(run_dir, model, bundle, histories, {
            "task": "fine_tune", "freeze_until": freeze_until, "trainable_groups": trainable,
            "frozen_groups": frozen, "learning_rate": learning_rate, "optimizer": optimizer,
            "head_epochs": head_epochs, "epochs": epochs, "head_factor": head_factor,
            "block_factor": block_factor, "layer_decay": layer_decay,
            "recipe": recipe.to_dict() if recipe is not None else None,
            "data": _data_spec(data, validation_split, seed),
        })
        if report:
            from kerascnn.training.rundir import write_report

            write_report(run_dir, bundle.validation, quiet=verbose == 0)
    return model


def _data_spec(data, validation_split: float, seed: int) -> dict | None:
    """How `data` can be reloaded (by the report and `kerascnn.evaluate`), when it is a name or
    a path; in-memory data cannot."""
    if not isinstance(data, (str, os.PathLike)):
        return None
    spec = {"data": os.fspath(data), "validation_split": validation_split, "seed": seed}
    if os.path.exists(spec["data"]):
        spec["path"] = os.path.abspath(spec["data"])
    return spec


def _write_run(run_dir, model, bundle, histories, config) -> None:
    os.makedirs(run_dir, exist_ok=True)
    model.save(os.path.join(run_dir, "model.keras"))
    config = {**config, "model": model.name, "class_names": list(bundle.class_names),
              "normalization": bundle.normalization,
              "input_shape": list(model.inputs[0].shape[1:])}
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, default=repr)
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump({phase: {k: [float(v) for v in vs] for k, vs in h.items()}
                   for phase, h in histories.items()}, f, indent=2)
