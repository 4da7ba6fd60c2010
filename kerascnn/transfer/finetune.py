"""Fine-tuning in two phases, as the CS5242 notes' transfer-learning recipe has it.

1. Reinitialize the classifier for the new classes and train it alone, everything else frozen, at
   the base learning rate.
2. Unfreeze the later block groups and train them together with the head at a tenth of the base
   rate ("Lower learning rate when finetuning; 1/10 of original LR is good starting point"), the
   early groups staying frozen.

Both phases are epochs of one run (`kerascnn.training.run`), which writes the same run directory
as `kerascnn.train` and resumes the same way. Freezing is by block group; frozen batch-norm layers
run in inference mode, so their statistics and every frozen weight leave training bit-identical.
Phase 2's rates live in one optimizer (`GroupLearningRates`), so the head may keep the base rate or
the groups may follow a layer-wise decay, and the whole thing saves with the model.
"""

from __future__ import annotations

import dataclasses
import functools
from types import MappingProxyType

import keras

from kerascnn import validation
from kerascnn.transfer.freezing import (backbone_groups, freeze, replace_head,
                                        trainable_groups_for)
from kerascnn.transfer.optimizers import layerwise_decay

__all__ = ["fine_tune", "plan_fine_tune", "prepare_data"]

OPTIMIZERS = ("sgd", "adam")
_NOTES = "CS5242 lecture notes, transfer learning (after cs231n)"


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

    return get_recipe(recipe)


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
    validation_split="auto",
    run_dir: str | None = None,
    callbacks=(),
    seed: int = 0,
    verbose="auto",
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
        batch_size, augmentation, seed: For `kerascnn.data.load`.
        validation_split: The share of `data` held out for validation when it has no
            validation split of its own; "auto" (the default) as `kerascnn.train`'s: 10%, and
            none from data known to have fewer than 100 images per class.
        recipe: None, or a recipe (name or `kerascnn.training.Recipe`) whose regularizers both
            phases add: label smoothing, mixup and cutmix, RandAugment / TrivialAugment, random
            erasing, gradient clipping and the weight EMA (each phase averages the weights it
            trains, from the phase's start; validation, checkpoints and the result use the
            averages) ("small_data" for a few hundred images). Its optimizer, schedule and
            epochs do not apply: the phases above set those.
        run_dir: If given, the run directory, as `kerascnn.train` writes it (see
            `kerascnn.training.rundir`): `config.json` (class names, normalization, the data spec,
            the plan), `history.csv` with the epochs of both phases, best/last checkpoints,
            TensorBoard logs, the run report (`report/report.html`), and `model.keras` (the
            final model) and `history.json` (the history by phase). An unfinished run of the
            same configuration there is resumed. Default None: a temporary directory, removed
            at the end.
        callbacks: Extra Keras callbacks for both phases.
        verbose: "auto" (default: progress bars on a terminal, one line per epoch in a log
            file), 0, 1 or 2.
        jit_compile: "auto" (XLA where `kerascnn.training.xla` measured it to pay off: GPUs, and
            long runs of small CPU models), True or False.
        build_kwargs: Extra `kerascnn.build` arguments for a model given by name.
        report: bool, default True: with `run_dir`, write the run report (`kerascnn.report`).

    Both phases are epochs of one `kerascnn.training.run.Run` (`plan_fine_tune` decides them):
    phase 1 is epochs 1 to `head_epochs`, phase 2 the ones after.

    Returns:
        The fine-tuned `keras.Model` (compiled, with `GroupLearningRates` after phase 2).

    Raises:
        ValueError: For invalid arguments (an unknown group lists the model's groups).
        FileExistsError: If `run_dir` holds a finished run.
    """
    return execute(plan_fine_tune(
        model_or_name, data, freeze_until=freeze_until, weights=weights, head_epochs=head_epochs,
        epochs=epochs, learning_rate=learning_rate, optimizer=optimizer, momentum=momentum,
        head_factor=head_factor, block_factor=block_factor, layer_decay=layer_decay,
        batch_size=batch_size, normalization=normalization, augmentation=augmentation,
        recipe=recipe, validation_split=validation_split, run_dir=run_dir, callbacks=callbacks,
        seed=seed, verbose=verbose, jit_compile=jit_compile, build_kwargs=build_kwargs,
        report=report)).model


def execute(run_plan):
    """Runs a plan of `plan_fine_tune` (or `kerascnn.training.plan`); returns its `RunOutcome`."""
    from kerascnn.training.run import Run

    return Run(run_plan).execute()


def _run_recipe(recipe, optimizer, learning_rate, momentum, batch_size, epochs):
    """The recipe a fine-tuning run compiles with: `recipe`'s regularizers (or none) with the
    phases' optimizer at a constant rate and no weight decay of its own."""
    from kerascnn.training.recipe import Recipe

    fixed = {"learning_rate": learning_rate, "batch_size": batch_size, "schedule": "constant",
             "optimizer": optimizer, "momentum": momentum, "nesterov": False,
             "weight_decay": 0.0, "warmup_epochs": 0.0, "min_steps": 0}
    if recipe is not None:
        return recipe.replace(**fixed)
    return Recipe(name="fine_tune", paper=_NOTES, epochs=max(1, epochs), **fixed)


def _phases(model, trainable, head_epochs, epochs, learning_rate, head_factor, block_factor,
            layer_decay) -> tuple:
    from kerascnn.training.plan import Phase

    phases = [Phase("head", head_epochs, learning_rate, trainable=(),
                    prepare=functools.partial(freeze, trainable_groups=[]))] if head_epochs else []
    if epochs and trainable:
        if layer_decay is not None:
            decay = layerwise_decay(model, layer_decay, head=head_factor)
            multipliers = {g: decay[g] for g in (*trainable, "head")}
        else:
            multipliers = {"head": head_factor, **{g: block_factor for g in trainable}}
        phases.append(Phase("fine_tune", epochs, learning_rate, trainable=tuple(trainable),
                            multipliers=tuple(multipliers.items()),
                            prepare=functools.partial(freeze, trainable_groups=list(trainable))))
    return tuple(phases)


def plan_fine_tune(model_or_name, data, *, freeze_until=1, weights=None, head_epochs=5, epochs=5,
                   learning_rate=0.01, optimizer="sgd", momentum=0.9, head_factor=0.1,
                   block_factor=0.1, layer_decay=None, batch_size=32, normalization=None,
                   augmentation=None, recipe=None, validation_split="auto", run_dir=None,
                   callbacks=(), seed=0, verbose="auto", jit_compile="auto", build_kwargs=None,
                   report=True, export=None, run_name=None):
    """The `TrainPlan` of `fine_tune` with the same arguments (see there), checked before any
    image is read: the starting model is built (or copied) to check `freeze_until` against its
    groups. Both phases are epochs of one run.

    Args:
        export: As for `kerascnn.train`: export the fine-tuned model for serving at the end.
        run_name: With `run_dir=None`, run in `runs/<run_name>-<time>` (or resume the newest
            unfinished run of the same configuration there) instead of a temporary directory.

    Raises:
        ValueError: For invalid arguments; FileExistsError: if `run_dir` holds a finished run.
    """
    from kerascnn.training import plan as planning
    from kerascnn.training.dataspec import DataSpec
    from kerascnn.training.strategy import resolve_strategy

    validation.check_positive_int(head_epochs, "head_epochs", minimum=0)
    validation.check_positive_int(epochs, "epochs", minimum=0)
    validation.check_positive_int(batch_size, "batch_size")
    validation.check_positive_int(seed, "seed", minimum=0)
    planning.check_validation_split(validation_split)
    validation.check_choice(optimizer, "optimizer", OPTIMIZERS)
    validation.check_number(momentum, "momentum", low=0.0, high=1.0, include_high=False)
    validation.check_choice(jit_compile, "jit_compile", ("auto", True, False))
    verbose = planning.resolve_verbose(verbose)
    learning_rate = planning.check_rate(learning_rate, "learning_rate")
    head_factor = planning.check_rate(head_factor, "head_factor")
    block_factor = planning.check_rate(block_factor, "block_factor")
    if layer_decay is not None:
        planning.check_rate(layer_decay, "layer_decay")
    recipe = _regularizing_recipe(recipe)
    if validation_split == "auto":  # A given share needs no count of the data.
        from kerascnn.data.counting import split_and_count

        validation_split = split_and_count(validation_split, data)[0]
    model = _starting_model(model_or_name, weights, build_kwargs)
    if normalization is None:
        normalization = _weights_normalization(model_or_name, weights)
    trainable = trainable_groups_for(model, freeze_until)  # Fail on a bad group before any work.
    phases = _phases(model, trainable, head_epochs, epochs, learning_rate, head_factor,
                     block_factor, layer_decay)
    final = phases[-1].trainable if phases else ()
    family = None
    if isinstance(model_or_name, str):
        from kerascnn.registry import get_entry

        family = get_entry(model_or_name).family
    spec = planning.ModelSpec(model.name, family, tuple(model.inputs[0].shape[1:]), given=model,
                              adapt=replace_head)
    details = {"freeze_until": freeze_until, "trainable_groups": list(trainable),
               "frozen_groups": [g for g in backbone_groups(model) if g not in final],
               "learning_rate": learning_rate, "optimizer": optimizer, "momentum": momentum,
               "head_epochs": head_epochs, "fine_tune_epochs": epochs,
               "head_factor": head_factor, "block_factor": block_factor,
               "layer_decay": layer_decay, "weights": weights if isinstance(weights, str) else None,
               "phases": [{"name": p.name, "epochs": p.epochs,
                           "multipliers": dict(p.multipliers)} for p in phases]}
    draft = planning.TrainPlan(
        task="fine_tune", model=spec,
        data=DataSpec.of(data, validation_split=validation_split, seed=seed,
                         normalization=normalization),
        recipe=_run_recipe(recipe, optimizer, learning_rate, momentum, batch_size,
                           head_epochs + epochs),
        phases=phases, batch_size=batch_size, passes_per_epoch=1, augmentation=augmentation,
        seed=seed, strategy=resolve_strategy("default"), jit_compile=jit_compile,
        steps_per_execution=1, verbose=verbose, run_dir=None, write_dir=None, resume=False,
        cluster=None, export_dir=None, report=report, callbacks=tuple(callbacks or ()),
        details=MappingProxyType(details))
    if run_dir is None and run_name is None:
        placed = draft
    else:
        placed = planning.place(draft, run_dir, run_name or f"finetune-{model.name}")
    from kerascnn.training.rundir import export_target

    return dataclasses.replace(placed, export_dir=export_target(export, model.name))
