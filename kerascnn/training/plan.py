"""A training run decided before it starts: `plan(...)` checks every argument, resolves the recipe,
the strategy, the run directory and the export, and returns a frozen `TrainPlan`; `run.Run`
executes it. Everything that can be refused is refused here, before any image is read.

Planning reads (the data's size from its folder or metadata, an unfinished run's `config.json`) but
writes nothing. It does choose the `tf.distribute` strategy: multi-worker collectives and CPU
splits must be set up before TensorFlow runs its first operation.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from types import MappingProxyType
from typing import Any, Callable, Mapping

import keras

from kerascnn import validation
from kerascnn.data.counting import batches_per_pass
from kerascnn.training import multiworker, optim, rundir
from kerascnn.training.dataspec import DataSpec
from kerascnn.training.execution import check_steps_per_execution
from kerascnn.training.recipe import Recipe
from kerascnn.training.recipes import resolve_augmentation, resolve_recipe
from kerascnn.training.strategy import describe, resolve_strategy

__all__ = ["ModelSpec", "Phase", "TrainPlan", "plan", "VERBOSE_CHOICES"]

VERBOSE_CHOICES = ("auto", 0, 1, 2)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """The network a run trains.

    Attributes:
        name: The registered name, or the given model's name.
        family: The registry family, or None for a model from elsewhere.
        input_shape: `(H, W, C)`.
        build_kwargs: `kerascnn.build` arguments (models given by name).
        given: The `keras.Model` to train, or None to build `name`.
        adapt: None, or a function `(given, num_classes) -> model` that adapts the given model
            to the data (fine-tuning: a new classifier for the data's classes).
        policy: The mixed-precision dtype policy to build under, or None.
    """

    name: str
    family: str | None
    input_shape: tuple
    build_kwargs: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    given: Any = dataclasses.field(default=None, compare=False, repr=False)
    adapt: Callable | None = dataclasses.field(default=None, compare=False, repr=False)
    policy: str | None = None


@dataclasses.dataclass(frozen=True)
class Phase:
    """Consecutive epochs trained with one optimizer and one set of trainable groups.

    Attributes:
        name: "train", or fine-tuning's "head" and "fine_tune".
        epochs: Epochs of the phase.
        learning_rate: The optimizer's base rate (the recipe's schedule starts from it).
        trainable: Block groups that train besides the head; None trains the model as built.
        multipliers: `((group, factor), ...)` for `GroupLearningRates`; empty for none.
        prepare: None, or a function of the model run before the phase compiles it (fine-tuning:
            freezing all but `trainable`).
    """

    name: str
    epochs: int
    learning_rate: float
    trainable: tuple | None = None
    multipliers: tuple = ()
    prepare: Callable | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class TrainPlan:
    """Everything a run will do, decided; `config()` is what `config.json` records of it.

    Attributes:
        task: "train" or "fine_tune".
        model, data, recipe: What trains (`ModelSpec`), on what (`DataSpec`), and how.
        phases: The `Phase`s, in order; their epochs are consecutive epochs of the run.
        batch_size: The global batch size.
        passes_per_epoch: Passes over the training data per epoch (`recipe.min_steps`).
        augmentation: The augmentation policy the training data is loaded with.
        seed: For the split, shuffling, augmentation and initial weights.
        strategy: The `tf.distribute` strategy (already created).
        jit_compile, steps_per_execution: As asked ("auto" is resolved once the model exists).
        verbose: 0, 1 or 2.
        run_dir: The run directory, or None for a temporary one.
        write_dir: Where this process writes (a worker's own directory on non-chief workers).
        resume: Whether the run continues an unfinished run in `run_dir`.
        cluster: The multi-worker cluster (`TF_CONFIG`), or None.
        export_dir: The version directory to export to at the end, or None.
        report: Whether to write the run report at the end.
        callbacks: The caller's Keras callbacks, after the run's own.
        details: Task-specific entries of `config()` (fine-tuning's groups and factors).
        earlier: The config of the run being resumed, or None.
    """

    task: str
    model: ModelSpec
    data: DataSpec
    recipe: Recipe
    phases: tuple
    batch_size: int
    passes_per_epoch: int
    augmentation: Any
    seed: int
    strategy: Any = dataclasses.field(compare=False, repr=False)
    jit_compile: Any
    steps_per_execution: Any
    verbose: int
    run_dir: str | None
    write_dir: str | None
    resume: bool
    cluster: Mapping | None
    export_dir: str | None
    report: bool
    callbacks: tuple = ()
    details: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    earlier: Mapping | None = None

    @property
    def epochs(self) -> int:
        return sum(phase.epochs for phase in self.phases)

    @property
    def temporary(self) -> bool:
        """No run directory was asked for: the run writes to a temporary one, removed after."""
        return self.run_dir is None

    @property
    def is_chief(self) -> bool:
        return multiworker.is_chief(dict(self.cluster) if self.cluster else None)

    def config(self) -> dict:
        """The configuration that determines the run (fingerprinted, JSON-ready)."""
        head = {"model": self.model.name, "family": self.model.family,
                "build_kwargs": dict(self.model.build_kwargs), "data": self.data.to_dict(),
                "input_shape": list(self.model.input_shape),
                "normalization": self.data.normalization, "augmentation": self.augmentation}
        if self.task != "train":
            head["task"] = self.task
        config = {
            **head, "recipe": self.recipe.to_dict(), "epochs": self.epochs,
            "passes_per_epoch": self.passes_per_epoch, "batch_size": self.batch_size,
            "learning_rate": self.phases[0].learning_rate if self.phases else None,
            "seed": self.seed, "mixed_precision": self.model.policy,
            "strategy": describe(self.strategy), "jit_compile": self.jit_compile,
            **_plain(self.details),
        }
        config["fingerprint"] = rundir.fingerprint(config)
        return config


def _plain(value):
    """Mappings and tuples as JSON's dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def flat_as_image(shape: tuple) -> tuple:
    """`(H, W, 1)` for a flat input of H * W values (an MLP trained on square images)."""
    side = int(round(math.sqrt(shape[0])))
    if len(shape) == 1 and side * side == shape[0]:
        return (side, side, 1)
    raise ValueError(
        "This model takes flat vectors; pass input_shape=(height, width, channels) to train it on "
        f"images. Received: input_shape={shape!r}"
    )


def model_spec(model_or_name, build_kwargs: dict, policy=None) -> ModelSpec:
    """The `ModelSpec` of a registered name (with `build_kwargs`) or a `keras.Model`."""
    if isinstance(model_or_name, keras.Model):
        if build_kwargs:
            raise ValueError("Build arguments apply to models given by name. "
                             f"Received: {sorted(build_kwargs)}")
        if policy:
            raise ValueError("mixed_precision applies to models built by name; build your model "
                             f"under a dtype policy instead. Received: mixed_precision={policy!r}")
        shape = tuple(model_or_name.inputs[0].shape[1:])
        if len(shape) != 3 or None in shape:
            raise ValueError(f"train needs a model with a fixed (H, W, C) input. Received: "
                             f"input_shape={shape!r}")
        return ModelSpec(model_or_name.name, None, shape, given=model_or_name)
    from kerascnn.registry import get_entry

    entry = get_entry(model_or_name)
    shape = tuple(build_kwargs.get("input_shape") or entry.default_input_shape)
    shape = shape if len(shape) == 3 else flat_as_image(shape)
    return ModelSpec(entry.name, entry.family, shape, MappingProxyType(dict(build_kwargs)),
                     policy=policy)


def mixed_policy(mixed_precision) -> str | None:
    """The dtype policy `mixed_precision` asks for (None for full precision)."""
    if not isinstance(mixed_precision, (bool, str, type(None))):
        raise ValueError("mixed_precision must be True, False, 'mixed_float16' or "
                         f"'mixed_bfloat16'. Received: mixed_precision={mixed_precision!r}")
    if mixed_precision in (False, None):
        return None
    if mixed_precision is True:
        import tensorflow as tf

        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    return validation.check_choice(mixed_precision, "mixed_precision",
                                   (True, False, "mixed_float16", "mixed_bfloat16"))


def check_rate(value, name: str) -> float:
    """`value` as a float when it is a positive finite number; else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    return float(value)


def check_validation_split(validation_split) -> None:
    """Raises ValueError unless `validation_split` is "auto" or a number in [0, 1)."""
    if validation_split != "auto":
        try:
            validation.check_fraction(validation_split, "validation_split")
        except ValueError:
            raise ValueError(f"validation_split must be 'auto' or a number in [0, 1). "
                             f"Received: validation_split={validation_split!r}") from None


def _check_arguments(epochs, batch_size, learning_rate, validation_split, seed, verbose,
                     jit_compile, steps_per_execution, report):
    for value, name in ((epochs, "epochs"), (batch_size, "batch_size")):
        if value is not None:
            validation.check_positive_int(value, name)
    if learning_rate is not None:
        check_rate(learning_rate, "learning_rate")
    check_validation_split(validation_split)
    validation.check_positive_int(seed, "seed", minimum=0)
    validation.check_choice(verbose, "verbose", VERBOSE_CHOICES)
    validation.check_choice(jit_compile, "jit_compile", ("auto", True, False))
    check_steps_per_execution(steps_per_execution)
    validation.check_bool(report, "report")


def recipe_batch_size(recipe: Recipe, examples: int | None) -> int:
    """The recipe's batch on `examples` training images: `recipe.batch_size`, or on a set too
    small for `recipe.min_batches` such batches, the set's share `ceil(examples / min_batches)`.
    The idea is that small, noisy batches generalize better than whole-set ones (Keskar et al.,
    "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp Minima", ICLR 2017);
    on 15 to 60 images tools/recipes_small_data.py found no consistent gain, so no recipe sets
    it."""
    if not recipe.min_batches or not examples:
        return recipe.batch_size
    return max(1, min(recipe.batch_size, math.ceil(examples / recipe.min_batches)))


def passes_per_epoch(recipe: Recipe, examples: int | None, batch_size: int, epochs: int) -> int:
    """Passes over the training data in one epoch: enough for `recipe.min_steps` optimizer steps
    in the run. An epoch of a small dataset is then several passes, which keeps the per-epoch
    work (validation, checkpoints) in proportion."""
    if not recipe.min_steps or not examples:
        return 1
    steps = batches_per_pass(examples, batch_size)
    return max(1, math.ceil(recipe.min_steps / (epochs * steps)))


def resolve_verbose(verbose) -> int:
    """0, 1 or 2; "auto" is progress bars on a terminal and one line per epoch in a log file."""
    validation.check_choice(verbose, "verbose", VERBOSE_CHOICES)
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def place(draft: TrainPlan, run_dir, name: str) -> TrainPlan:
    """`draft` with its run directory resolved: `run_dir`, or for None the newest unfinished run
    of the same configuration under `runs/<name>-*` (resumed) or a new `runs/<name>-<time>`.

    Raises:
        FileExistsError: If `run_dir` holds a finished run.
        ValueError: If it holds an unfinished run of another configuration, or a multi-worker
            run has none.
    """
    config = draft.config()
    if draft.cluster and run_dir is None:
        raise ValueError("A multi-worker run needs run_dir, the same on every worker. "
                         "Received: run_dir=None")
    run_dir, resume = rundir.resolve_run_dir(run_dir, name, config)
    write_dir = run_dir
    if draft.cluster and not draft.is_chief:
        write_dir = multiworker.worker_dir(run_dir, dict(draft.cluster))
        resume = rundir.resolve_run_dir(write_dir, name, config)[1]
    earlier = rundir.read_config(write_dir) if resume else None
    return dataclasses.replace(draft, run_dir=run_dir, write_dir=write_dir, resume=resume,
                               earlier=MappingProxyType(earlier) if earlier else None)


def plan(model_or_name, data, *, recipe="auto", epochs=None, batch_size=None, learning_rate=None,
         run_dir=None, export=None, strategy="auto", cpu_replicas=None, mixed_precision=False,
         jit_compile="auto", steps_per_execution="auto", validation_split="auto", seed=0,
         verbose="auto", augmentation="recipe", split=None, data_dir=None, callbacks=None,
         report=True, worker_timeout=None, **build_kwargs) -> TrainPlan:
    """The plan of `kerascnn.train(...)` with the same arguments (see there); reads no image.

    Raises:
        ValueError: For invalid arguments, a strategy the machine cannot provide, or a run
            directory holding an unfinished run of another configuration.
        FileExistsError: If `run_dir` holds a finished run, or `export` names an existing
            version directory.
    """
    _check_arguments(epochs, batch_size, learning_rate, validation_split, seed, verbose,
                     jit_compile, steps_per_execution, report)
    # The strategy comes first: multi-worker collectives and CPU splits must be set up before
    # TensorFlow runs its first operation.
    strategy = resolve_strategy(strategy, cpu_replicas, worker_timeout)
    spec = model_spec(model_or_name, build_kwargs, mixed_policy(mixed_precision))
    from kerascnn.data.counting import split_and_count

    validation_split, examples = split_and_count(validation_split, data, split=split,
                                                 data_dir=data_dir)
    recipe = resolve_recipe(recipe, spec.family, spec.input_shape, examples)
    global_batch = batch_size or recipe_batch_size(recipe, examples)
    epochs = epochs or recipe.epochs
    # A batch shrunk to a small set keeps the recipe's rate: the recipe's batch never existed
    # there (on 15 images a batch of 32 is all 15).
    rate = learning_rate or optim.scaled_learning_rate(recipe, batch_size or recipe.batch_size)
    if augmentation == "recipe":
        augmentation = resolve_augmentation(recipe, spec.family, spec.input_shape)
    normalization = recipe.normalization if spec.input_shape[2] == 3 else "unit"
    data_spec = DataSpec.of(data, validation_split=validation_split, seed=seed, split=split,
                            normalization=normalization, data_dir=data_dir,
                            num_classes=build_kwargs.get("num_classes"))
    cluster = multiworker.cluster_from_environment() if multiworker.is_multi_worker(strategy) \
        else None
    draft = TrainPlan(
        task="train", model=spec, data=data_spec, recipe=recipe,
        phases=(Phase("train", epochs, rate),), batch_size=global_batch,
        passes_per_epoch=passes_per_epoch(recipe, examples, global_batch, epochs),
        augmentation=augmentation, seed=seed, strategy=strategy, jit_compile=jit_compile,
        steps_per_execution=steps_per_execution, verbose=resolve_verbose(verbose),
        run_dir=None, write_dir=None, resume=False,
        cluster=MappingProxyType(cluster) if cluster else None, export_dir=None, report=report,
        callbacks=tuple(callbacks or ()))
    placed = place(draft, run_dir, spec.name)
    return dataclasses.replace(placed, export_dir=rundir.export_target(export, spec.name))
