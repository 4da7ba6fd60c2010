"""`kerascnn.evaluate`: top-1 and top-5 accuracy of a model, a checkpoint, a run or an export,
on the center crop or the 10-crop average (Krizhevsky et al. 2012, section 4.1)."""

from __future__ import annotations

import os

import keras

from kerascnn import validation

__all__ = ["evaluate", "IMAGENET_RESIZE"]

IMAGENET_RESIZE = 256 / 224  # Images are stored at 256 for 224 crops (AlexNet, VGG, ResNet).
_SMALL_INPUT = 64  # Up to this size (CIFAR, digits) images are used whole, without a crop.


def _open_model(model_or_path) -> tuple[keras.Model, dict]:
    if isinstance(model_or_path, keras.Model):
        return model_or_path, {}
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise ValueError("model_or_path must be a keras.Model, a .keras file, or a run or export "
                         f"directory. Received: model_or_path={model_or_path!r}")
    if not os.path.exists(model_or_path):
        raise FileNotFoundError(f"No such model file or directory: {os.fspath(model_or_path)}")
    from kerascnn.saving import load_source

    return load_source(os.fspath(model_or_path))


def _run_data(info: dict, data) -> dict | None:
    """The `load` options of the run's own data when `data` is it (same name, or the same
    file-system entry, given relative or absolute), else None. The run's `config.json` records
    its data (`kerascnn.training.dataspec.DataSpec`)."""
    from kerascnn.training.dataspec import DataSpec

    spec = DataSpec.from_config(info)
    return spec.load_options() if spec is not None and spec.is_same(data) else None


def _whole(data) -> str:
    if isinstance(data, (str, os.PathLike)):
        data = os.fspath(data)
        return "whole folder" if os.path.isdir(data) else f"all of {data!r}"
    return "all of the arrays" if isinstance(data, (tuple, list)) else "the whole dataset"


def _plan(data, info: dict, split, validation_split, seed) -> tuple[dict, dict]:
    """The `load` arguments that pick what to score, and how to say which part that is, keyed
    by where the loaded validation split comes from (`DataBundle.validation_from`; "*": any)."""
    if split is not None:
        return {"split": (None, split) if isinstance(split, str) else split}, \
            {"*": f"split {split!r}"}
    own = _run_data(info, data)
    if validation_split is not None:
        share = validation.check_fraction(validation_split, "validation_split")
        if share == 0:
            raise ValueError("validation_split=0 holds nothing out to evaluate; leave it unset "
                             "to evaluate all of a separate test set, or pass split=. "
                             f"Received: validation_split={validation_split}")
        seed = seed if seed is not None else (own or {}).get("seed") or 0
        return ({"validation_split": share, "seed": seed},
                {"*": f"a {share:.0%} hold-out (seed {seed})"})
    if own is not None:  # The run's own data: the examples it held out, as it held them out.
        options = {k: own[k] for k in ("split", "validation_split", "seed", "data_dir")
                   if own.get(k) is not None}
        if seed is not None:
            options["seed"] = seed
        share = options.get("validation_split", 0.1)
        return options, {"hold-out": f"the run's {share:.0%} hold-out",
                         "split": "the run's validation split"}
    named = isinstance(data, str) and data != "digits" and not os.path.exists(data)
    return {"test_set": True}, {"all": _whole(data),
                                "split": "its 'test' split" if named else "its validation split"}


def evaluate(model_or_path, data, *, crops: str = "center", batch_size: int = 32, split=None,
             validation_split: float | None = None, seed: int | None = None,
             normalization: str | None = None, resize_scale: float | None = None,
             data_dir: str | None = None, verbose: int = 1) -> dict:
    """Evaluates a classifier's top-1 and top-5 accuracy on held-out data.

    What is scored, by default: the run's own data (the data spec its `config.json` records:
    same name, or same folder) is scored on the examples the run held out for validation,
    as it held them out; any other folder or dataset is a separate test set and is scored
    whole (a tensorflow-datasets name: its "test" split; a folder of "train" and "val"
    sub-folders: its "val" one). `split` or `validation_split` choose otherwise.

    Args:
        model_or_path: A `keras.Model`, a `.keras` file, a run directory (its best checkpoint) or
            an export directory.
        data: As for `kerascnn.train`: a tensorflow-datasets name, an image folder, "digits", an
            `(x, y)` pair or a `tf.data.Dataset`.
        crops: "center" (default) or "ten" (the four corners, center and their flips, averaged).
        batch_size: int, default 32.
        split: The split to evaluate, in tensorflow-datasets syntax ("test", "validation"), or
            a sub-folder of a folder split into sub-folders.
        validation_split: float in (0, 1): score this seeded share held out of `data` (the same
            examples `kerascnn.train` holds out with the same values) instead of the default.
        seed: int, the seed of that hold-out; default the run's, else 0.
        normalization: How pixels are scaled; default: what the run or export recorded, else
            "unit".
        resize_scale: Stored image size over crop size; default 256/224 for inputs larger than
            64x64 (the papers' 224 crops of 256 images), else 1.
        data_dir: tensorflow-datasets data directory.
        verbose: 1 shows a progress bar, 0 not.

    Returns:
        {"top1", "top5", "loss", "examples", "crops", "scored"}: "examples" is how many were
        scored and "scored" says which part of `data` they were ("whole folder", "the run's
        10% hold-out" ...).

    Raises:
        ValueError: For invalid arguments; FileNotFoundError for a missing path.
    """
    from kerascnn.data import CROPS, evaluate_crops, load

    validation.check_choice(crops, "crops", CROPS)
    validation.check_positive_int(batch_size, "batch_size")
    validation.check_choice(verbose, "verbose", (0, 1, 2))
    if seed is not None:
        validation.check_positive_int(seed, "seed", minimum=0)
    model, info = _open_model(model_or_path)
    options, scored = _plan(data, info, split, validation_split, seed)
    from kerascnn.training.run import inference_model

    model = inference_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    if resize_scale is None:
        resize_scale = IMAGENET_RESIZE if max(shape[:2]) > _SMALL_INPUT else 1.0
    policy = [("resize", {"scale": resize_scale})] if resize_scale != 1.0 else None
    if data_dir is not None or "data_dir" not in options:
        options["data_dir"] = data_dir
    bundle = load(
        data, input_shape=shape, batch_size=batch_size, augmentation=policy,
        normalization=normalization or info.get("normalization") or "unit",
        verbose=verbose, shuffle=False, **options,
    )
    if bundle.validation is None:  # The run's own data, of which it held nothing out.
        raise ValueError("data is the run's own training data, of which it held nothing out; "
                         "pass split=, validation_split=, or a separate test set. "
                         f"Received: data={data!r}")
    result = evaluate_crops(model, bundle, crops=crops, verbose=verbose)
    result["scored"] = scored.get("*") or scored[bundle.validation_from]
    return result
