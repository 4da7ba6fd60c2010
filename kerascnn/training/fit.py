"""`kerascnn.train`: a registered model (or any Keras model), a dataset and a recipe in,
a trained model and a run directory out.

The run is Keras's own `model.fit` under a `tf.distribute` strategy (see `strategy.py`), with the
recipe's optimizer and schedule (`optim.py`), and the callbacks of `callbacks.py` writing the run
directory described in `rundir.py`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

import keras
import tensorflow as tf

from kerascnn import validation
from kerascnn.training import callbacks as run_callbacks
from kerascnn.training import compiling, multiworker, optim, rundir
from kerascnn.training.advice import data_advice
from kerascnn.training.compiling import MAIN_OUTPUT
from kerascnn.training.recipes import Recipe, resolve_augmentation, resolve_recipe
from kerascnn.training.strategy import describe, resolve_strategy
from kerascnn.training.execution import check_steps_per_execution, resolve_steps_per_execution
from kerascnn.training.xla import resolve_jit_compile

__all__ = ["TrainResult", "train", "inference_model", "MAIN_OUTPUT"]

VERBOSE_CHOICES = ("auto", 0, 1, 2)


@dataclasses.dataclass
class TrainResult:
    """What a run produced.

    Attributes:
        model: The trained model (auxiliary classifiers removed); after a diverged run, the last
            good checkpoint's weights.
        history: Per-epoch logs of the whole run (also `run_dir/history.csv`).
        run_dir: The run directory.
        metrics: The last epoch's logs (`accuracy`, `val_accuracy`, `val_top5_accuracy` ...).
        config: The resolved configuration (also `run_dir/config.json`).
        export_path: The SavedModel version directory when exported, else None.
        diverged: Whether the loss became NaN or infinite (the run then stopped early).
        message: Why the run stopped early, or "".
    """

    model: keras.Model
    history: dict
    run_dir: str
    metrics: dict
    config: dict
    export_path: str | None = None
    diverged: bool = False
    message: str = ""


def inference_model(model: keras.Model) -> keras.Model:
    """The model without auxiliary classifiers: only its main (`predictions`) output."""
    if len(model.outputs) == 1:
        return model
    main = model.get_layer(MAIN_OUTPUT).output
    return keras.Model(model.input, main, name=model.name)


def _flat_as_image(shape: tuple) -> tuple:
    side = int(round(math.sqrt(shape[0])))
    if len(shape) == 1 and side * side == shape[0]:
        return (side, side, 1)
    raise ValueError(
        "This model takes flat vectors; pass input_shape=(height, width, channels) to train it on "
        f"images. Received: input_shape={shape!r}"
    )


def _model_spec(model_or_name, build_kwargs: dict) -> tuple[str, str | None, tuple]:
    """(model name, registry family or None, (H, W, C) input shape)."""
    if isinstance(model_or_name, keras.Model):
        if build_kwargs:
            raise ValueError("Build arguments apply to models given by name. "
                             f"Received: {sorted(build_kwargs)}")
        shape = tuple(model_or_name.inputs[0].shape[1:])
        if len(shape) != 3 or None in shape:
            raise ValueError(f"train needs a model with a fixed (H, W, C) input. Received: "
                             f"input_shape={shape!r}")
        return model_or_name.name, None, shape
    from kerascnn.registry import get_entry

    entry = get_entry(model_or_name)
    shape = tuple(build_kwargs.get("input_shape") or entry.default_input_shape)
    return entry.name, entry.family, shape if len(shape) == 3 else _flat_as_image(shape)


def _check_arguments(epochs, batch_size, learning_rate, validation_split, seed, verbose,
                     jit_compile, steps_per_execution):
    for value, name in ((epochs, "epochs"), (batch_size, "batch_size")):
        if value is not None:
            validation.check_positive_int(value, name)
    if learning_rate is not None and not (
        isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool)
        and learning_rate > 0 and math.isfinite(learning_rate)
    ):
        raise ValueError(f"learning_rate must be a positive number. "
                         f"Received: learning_rate={learning_rate!r}")
    validation.check_fraction(validation_split, "validation_split")
    validation.check_positive_int(seed, "seed", minimum=0)
    validation.check_choice(verbose, "verbose", VERBOSE_CHOICES)
    validation.check_choice(jit_compile, "jit_compile", ("auto", True, False))
    check_steps_per_execution(steps_per_execution)


def _passes_per_epoch(recipe: Recipe, examples: int | None, batch_size: int, epochs: int) -> int:
    """Passes over the training data in one epoch: enough for `recipe.min_steps` optimizer steps
    in the run. An epoch of a small dataset is then several passes, which keeps the per-epoch
    work (validation, checkpoints) in proportion."""
    if not recipe.min_steps or not examples:
        return 1
    steps_per_pass = max(1, math.ceil(examples / batch_size))
    return max(1, math.ceil(recipe.min_steps / (epochs * steps_per_pass)))


def _data_spec(data, options: dict) -> dict:
    """How the run's data can be reloaded (the run report and `evaluate` read it); in-memory data
    cannot. A path is also recorded absolute, so that it is recognized from any directory."""
    if isinstance(data, (str, os.PathLike)):
        spec = {"data": os.fspath(data), **options}
        if os.path.exists(spec["data"]):
            spec["path"] = os.path.abspath(spec["data"])
        return spec
    kind = "tf.data.Dataset" if isinstance(data, tf.data.Dataset) else "arrays"
    return {"data": None, "kind": kind, **options}


def _mixed_policy(mixed_precision) -> str | None:
    if mixed_precision in (False, None):
        return None
    if mixed_precision is True:
        return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    return validation.check_choice(mixed_precision, "mixed_precision",
                                   (True, False, "mixed_float16", "mixed_bfloat16"))


def _build_model(model_or_name, name: str, bundle, input_shape, build_kwargs, policy, strategy):
    previous = keras.config.dtype_policy().name
    if policy:
        keras.config.set_dtype_policy(policy)
    try:
        with strategy.scope():
            if isinstance(model_or_name, keras.Model):
                if strategy.num_replicas_in_sync == 1:
                    return model_or_name
                # Variables must live under the strategy: rebuild the model there, same weights.
                clone = keras.models.clone_model(model_or_name)
                clone.set_weights(model_or_name.get_weights())
                return clone
            from kerascnn.registry import build

            kwargs = {"num_classes": bundle.num_classes, **build_kwargs,
                      "input_shape": input_shape}
            return build(name, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)


def _shard_by_data(dataset):
    if dataset is None:
        return None
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def train(model_or_name, data, *, recipe="auto", epochs=None, batch_size=None, learning_rate=None,
          run_dir=None, export=None, strategy="auto", cpu_replicas=None, mixed_precision=False,
          jit_compile="auto", steps_per_execution="auto", validation_split=0.1, seed=0,
          verbose="auto", augmentation="recipe", split=None, data_dir=None, callbacks=None,
          report=True, **build_kwargs) -> TrainResult:
    """Trains a model the way its paper did, writing a resumable run directory.

    Args:
        model_or_name: A registered model name (built with the data's number of classes) or a
            `keras.Model` with a fixed (H, W, C) input.
        data: A tensorflow-datasets name, an image-folder path, "digits", an `(x, y)` pair of
            numpy arrays, or a `tf.data.Dataset` (see `kerascnn.data.load`).
        recipe: "auto" (default: "small_data" below `recipes.SMALL_DATA_EXAMPLES` training
            images, else the family's paper recipe), "paper", a recipe name or a `Recipe`.
        epochs: int; default the recipe's.
        batch_size: int, the global batch size (split over replicas); default the recipe's.
        learning_rate: float; default the recipe's, scaled linearly to `batch_size`.
        run_dir: str; default `runs/<model>-<timestamp>/`, or the newest unfinished run of the
            same configuration there (which is then resumed).
        export: None, True (`saved_models/<model>/<next version>/`), a base directory (its next
            version) or a version directory: export the trained model for serving when the run
            ends (`kerascnn.export`).
        strategy: "auto", "default", "mirrored", "multi_worker", "tpu" or a strategy instance.
        cpu_replicas: int or None; mirror over this many logical CPU devices.
        mixed_precision: False, True ("mixed_float16" on GPUs, "mixed_bfloat16" elsewhere), or a
            policy name; applies to models built by name.
        jit_compile: "auto" (see `kerascnn.training.xla`), True or False.
        steps_per_execution: "auto" (see `kerascnn.training.execution`) or an int >= 1, the
            training steps per call of Keras's compiled train function.
        validation_split: float, share of the data held out when it has no validation split.
        seed: int, for the split, shuffling, augmentation and initial weights.
        verbose: "auto", 0, 1 or 2 (Keras's progress-bar settings).
        augmentation: "recipe" (default), None, or a `kerascnn.data` policy name or op list.
        split: tensorflow-datasets split syntax (see `kerascnn.data.load`).
        data_dir: tensorflow-datasets data directory.
        callbacks: Extra Keras callbacks, run after kerascnn's own.
        report: bool, default True: write the run report at the end, its page at
            `run_dir/report/report.html` (see `kerascnn.report`).
        **build_kwargs: Passed to `kerascnn.build` (input_shape, family options ...).

    Returns:
        A `TrainResult`.

    Raises:
        ValueError: For invalid arguments (before any training starts).
        FileExistsError: If `run_dir` holds a finished run, or `export` names an existing
            version directory.
    """
    _check_arguments(epochs, batch_size, learning_rate, validation_split, seed, verbose,
                     jit_compile, steps_per_execution)
    started = time.time()
    # The strategy comes first: multi-worker collectives and CPU splits must be set up before
    # TensorFlow runs its first operation.
    strategy = resolve_strategy(strategy, cpu_replicas)
    policy = _mixed_policy(mixed_precision)
    if policy and isinstance(model_or_name, keras.Model):
        raise ValueError("mixed_precision applies to models built by name; build your model under "
                         f"a dtype policy instead. Received: mixed_precision={mixed_precision!r}")
    name, family, input_shape = _model_spec(model_or_name, build_kwargs)
    from kerascnn.data.counting import count_training_examples

    # Chosen before any image is read, so that everything below can still be refused at once.
    examples = count_training_examples(data, split=split, validation_split=validation_split,
                                       data_dir=data_dir)
    recipe = resolve_recipe(recipe, family, input_shape, examples)
    global_batch = batch_size or recipe.batch_size
    epochs = epochs or recipe.epochs
    passes = _passes_per_epoch(recipe, examples, global_batch, epochs)
    rate = learning_rate or optim.scaled_learning_rate(recipe, global_batch)
    if augmentation == "recipe":
        augmentation = resolve_augmentation(recipe, family, input_shape)
    normalization = recipe.normalization if input_shape[2] == 3 else "unit"
    data_options = {"validation_split": validation_split, "seed": seed,
                    "normalization": normalization, "split": split, "data_dir": data_dir,
                    "num_classes": build_kwargs.get("num_classes")}
    config = {
        "model": name, "family": family, "build_kwargs": build_kwargs,
        "data": _data_spec(data, data_options), "input_shape": list(input_shape),
        "normalization": normalization, "augmentation": augmentation,
        "recipe": recipe.to_dict(), "epochs": epochs, "passes_per_epoch": passes,
        "batch_size": global_batch,
        "learning_rate": rate, "seed": seed, "mixed_precision": policy,
        "strategy": describe(strategy), "jit_compile": jit_compile,
    }
    config["fingerprint"] = rundir.fingerprint(config)
    cluster = multiworker.cluster_from_environment() if multiworker.is_multi_worker(strategy) \
        else None
    if cluster and run_dir is None:
        raise ValueError("A multi-worker run needs run_dir, the same on every worker. "
                         "Received: run_dir=None")
    # Before the data loads, so that a conflicting run directory fails at once.
    run_dir, resume = rundir.resolve_run_dir(run_dir, name, config)
    export_dir = rundir.export_target(export, name)
    write_dir = run_dir
    if cluster and not multiworker.is_chief(cluster):
        write_dir = multiworker.worker_dir(run_dir, cluster)
        resume = rundir.resolve_run_dir(write_dir, name, config)[1]
    earlier = rundir.read_config(write_dir) if resume else None

    from kerascnn.data import load

    keras.utils.set_random_seed(seed)
    quiet = verbose == 0
    if verbose == "auto":  # Progress bars on a terminal, one line per epoch in a log file.
        verbose = 1 if sys.stdout.isatty() else 2
    bundle = load(data, input_shape=input_shape, batch_size=global_batch,
                  augmentation=augmentation, verbose=0 if quiet else 1,
                  image_transform=compiling.image_transform(recipe, seed), **data_options)
    batch_transform, data_callbacks = compiling.batch_transform(recipe, bundle.num_classes, seed,
                                                                epochs)
    model = _build_model(model_or_name, name, bundle, input_shape, build_kwargs, policy, strategy)
    steps_per_epoch = max(1, math.ceil(bundle.train_examples / global_batch)) * passes
    jit = resolve_jit_compile(jit_compile, model, strategy, family, epochs * steps_per_epoch)
    steps_per_call = resolve_steps_per_execution(steps_per_execution, strategy, family)
    schedule = optim.make_schedule(recipe, rate, epochs, steps_per_epoch)
    with strategy.scope():
        if recipe.optimizer != "adamw":  # AdamW decays weights itself, decoupled.
            optim.apply_weight_decay(model, recipe.weight_decay, recipe.decay_norm_and_bias)
        outputs = compiling.compile_model(model, recipe, optim.make_optimizer(recipe, schedule),
                                          bundle.num_classes, jit, steps_per_call)
    advice = data_advice(name, bundle.train_examples, bundle.num_classes,
                         sum(math.prod(v.shape) for v in model.trainable_weights))
    config.update(
        advice=advice, class_names=bundle.class_names, num_classes=bundle.num_classes,
        train_examples=bundle.train_examples, validation_examples=bundle.validation_examples,
        xla=jit, steps_per_execution=steps_per_call, status="running",
        run_dir=os.path.abspath(run_dir),
        started=(earlier or {}).get("started") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        versions={"keras": keras.__version__, "tensorflow": tf.__version__},
    )

    backup_dir = os.path.join(write_dir, "backup")
    history_path = os.path.join(write_dir, "history.csv")
    done = run_callbacks.resumed_epoch(backup_dir) if resume else 0
    if resume:
        run_callbacks.trim_history(history_path, done)
        config["resumed_from_epoch"] = done
    if not quiet:
        where = f"resuming {run_dir} at epoch {done + 1}" if resume else f"run directory {run_dir}"
        print(f"kerascnn: training {name} on {bundle.train_examples} images "
              f"({bundle.validation_examples} held out), recipe {recipe.name}, {epochs} epochs"
              f"{f' of {passes} passes' if passes > 1 else ''}, batch {global_batch}, learning rate {rate:g}, "
              f"{config['strategy']['replicas']} replica(s), XLA {'on' if jit else 'off'}; "
              f"{where}", flush=True)
        if advice:
            print(f"kerascnn: note: {advice}", flush=True)
    rundir.write_config(write_dir, config)

    has_validation = bundle.validation is not None
    monitor = "val_accuracy" if has_validation else "accuracy"
    last_path = os.path.join(write_dir, "last.keras")
    guard = run_callbacks.DivergenceGuard(last_path)
    callback_list = [guard, multiworker.SyncReplicaVariables(strategy)]
    if len(outputs) > 1:
        callback_list.append(run_callbacks.MainOutputLogs(MAIN_OUTPUT))
    callback_list += optim.plateau_callbacks(recipe, rate, monitor, steps_per_epoch)
    callback_list += data_callbacks
    callback_list += [
        run_callbacks.LearningRateLogger(),
        keras.callbacks.CSVLogger(history_path, append=True),
        run_callbacks.ResumableBackup(backup_dir, guard),
        # After the backup, which must hold the raw weights, and before the checkpoints, which
        # then hold the averaged ones (as does the model when fit ends).
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema_decay else []),
        run_callbacks.AtomicCheckpoint(
            os.path.join(write_dir, "best.keras"), guard, monitor, best=True,
            initial_best=run_callbacks.best_so_far(history_path, monitor) if resume else None),
        run_callbacks.AtomicCheckpoint(last_path, guard),
        keras.callbacks.TensorBoard(os.path.join(write_dir, "logs"), write_graph=False,
                                    profile_batch=0),
        *(callbacks or []),
    ]
    one_hot = bundle.num_classes if recipe.soft_labels else None
    train = bundle.train.repeat(passes) if passes > 1 else bundle.train
    if batch_transform is not None:
        train = train.map(batch_transform, num_parallel_calls=tf.data.AUTOTUNE)
    train_data = _shard_by_data(compiling.for_outputs(train, outputs, one_hot))
    validation_data = _shard_by_data(compiling.for_outputs(bundle.validation, outputs, one_hot))
    # The pipeline shuffles; Keras's own shuffle does not apply to datasets.
    history = model.fit(train_data, validation_data=validation_data, epochs=epochs,
                        callbacks=callback_list, verbose=verbose, shuffle=False)

    if guard.diverged and os.path.exists(last_path):
        model.set_weights(keras.saving.load_model(last_path, compile=False).get_weights())
    full_history = rundir.read_history(history_path) or history.history
    metrics = {k: v[-1] for k, v in full_history.items() if v and k != "epoch"}
    trained = inference_model(model)
    export_path = None
    if export and not guard.diverged and multiworker.is_chief(cluster):
        export_path = rundir.export_model(trained, export_dir, bundle.class_names, normalization)
    config.update(status="diverged" if guard.diverged else "finished",
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S"), final_metrics=metrics,
                  export_path=export_path, message=guard.message,
                  duration_s=round(time.time() - started, 1))
    rundir.write_config(write_dir, config)
    if export_path and not quiet:
        print(f"kerascnn: exported to {export_path}", flush=True)
    if report and multiworker.is_chief(cluster):
        rundir.write_report(run_dir, bundle.validation, quiet)
    return TrainResult(trained, full_history, run_dir, metrics, config, export_path,
                       bool(guard.diverged), guard.message)
