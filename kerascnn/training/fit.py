"""`kerascnn.train`: a registered model (or any Keras model), a dataset and a recipe in,
a trained model and a run directory out.

`train` is `plan(...)` (`plan.py`: every argument checked, the recipe, strategy, run directory and
export decided before any image is read) executed by a `Run` (`run.py`: Keras's own `model.fit`
under a `tf.distribute` strategy, the recipe's optimizer and schedule from `optim.py`, and the
callbacks of `callbacks.py` writing the run directory described in `rundir.py`).
"""

from __future__ import annotations

import dataclasses

import keras

from kerascnn.training.compiling import MAIN_OUTPUT
from kerascnn.training.plan import flat_as_image as _flat_as_image  # noqa: F401
from kerascnn.training.plan import mixed_policy as _mixed_policy  # noqa: F401
from kerascnn.training.plan import model_spec, plan
from kerascnn.training.run import Run, build_model, inference_model

__all__ = ["TrainResult", "train", "inference_model", "MAIN_OUTPUT"]


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


def train(model_or_name, data, *, recipe="auto", epochs=None, batch_size=None, learning_rate=None,
          run_dir=None, export=None, strategy="auto", cpu_replicas=None, mixed_precision=False,
          jit_compile="auto", steps_per_execution="auto", validation_split="auto", seed=0,
          verbose="auto", augmentation="recipe", split=None, data_dir=None, callbacks=None,
          report=True, worker_timeout=None, **build_kwargs) -> TrainResult:
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
        validation_split: float, share of the data held out when it has no validation split;
            "auto": 10%, or none for data known to have fewer than 100 images per class
            (`kerascnn.data.counting.split_and_count`: the measurement).
        seed: int, for the split, shuffling, augmentation and initial weights.
        verbose: "auto", 0, 1 or 2 (Keras's progress-bar settings).
        augmentation: "recipe" (default), None, or a `kerascnn.data` policy name or op list.
        split: tensorflow-datasets split syntax (see `kerascnn.data.load`).
        data_dir: tensorflow-datasets data directory.
        callbacks: Extra Keras callbacks, run after kerascnn's own.
        report: bool, default True: write the run report at the end, its page at
            `run_dir/report/report.html` (see `kerascnn.report`).
        worker_timeout: Seconds a worker of a multi-worker cluster waits for the others, saying
            whom it waits for, before it gives up (default `$KERASCNN_WORKER_TIMEOUT`, else 600).
        **build_kwargs: Passed to `kerascnn.build` (input_shape, family options ...).

    Returns:
        A `TrainResult`.

    Raises:
        ValueError: For invalid arguments (before any training starts).
        FileExistsError: If `run_dir` holds a finished run, or `export` names an existing
            version directory, or another live process holds `run_dir`
            (`kerascnn.training.locks.RunDirectoryLocked`).
        kerascnn.training.signals.RunInterrupted: A `KeyboardInterrupt`, after SIGTERM or SIGINT
            in the main thread: the run wrote a checkpoint first (mid-epoch if need be), and
            calling `train` again the same way resumes it.
        kerascnn.training.backup.CheckpointWriteError: An `OSError`, when a checkpoint or the
            export cannot be written (a full disk); the previous one is kept.
    """
    run_plan = plan(
        model_or_name, data, recipe=recipe, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, run_dir=run_dir, export=export, strategy=strategy,
        cpu_replicas=cpu_replicas, mixed_precision=mixed_precision, jit_compile=jit_compile,
        steps_per_execution=steps_per_execution, validation_split=validation_split, seed=seed,
        verbose=verbose, augmentation=augmentation, split=split, data_dir=data_dir,
        callbacks=callbacks, report=report, worker_timeout=worker_timeout, **build_kwargs)
    outcome = Run(run_plan).execute()
    return TrainResult(inference_model(outcome.model), outcome.history, outcome.run_dir,
                       outcome.metrics, outcome.config, outcome.export_path, outcome.diverged,
                       outcome.message)


def _build_model(model_or_name, name: str, bundle, input_shape, build_kwargs, policy, strategy):
    """The model `train` builds for `bundle` (see `run.build_model`)."""
    spec = model_spec(model_or_name, {} if isinstance(model_or_name, keras.Model)
                      else {**build_kwargs, "input_shape": input_shape})
    return build_model(dataclasses.replace(spec, policy=policy), bundle.num_classes, strategy)
