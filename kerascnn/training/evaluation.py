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


def evaluate(model_or_path, data, *, crops: str = "center", batch_size: int = 32, split=None,
             validation_split: float = 0.1, seed: int = 0, normalization: str | None = None,
             resize_scale: float | None = None, data_dir: str | None = None,
             verbose: int = 1) -> dict:
    """Evaluates a classifier's top-1 and top-5 accuracy on held-out data.

    Args:
        model_or_path: A `keras.Model`, a `.keras` file, a run directory (its best checkpoint) or
            an export directory.
        data: As for `kerascnn.train`: a tensorflow-datasets name, an image folder, "digits", an
            `(x, y)` pair or a `tf.data.Dataset`.
        crops: "center" (default) or "ten" (the four corners, center and their flips, averaged).
        batch_size: int, default 32.
        split: The split to evaluate, in tensorflow-datasets syntax ("test", "validation");
            default: the data's validation split, else the `validation_split` held out of it
            with `seed` (the same examples `kerascnn.train` held out with the same values).
        validation_split: float, default 0.1.
        seed: int, default 0.
        normalization: How pixels are scaled; default: what the run or export recorded, else
            "unit".
        resize_scale: Stored image size over crop size; default 256/224 for inputs larger than
            64x64 (the papers' 224 crops of 256 images), else 1.
        data_dir: tensorflow-datasets data directory.
        verbose: 1 shows a progress bar, 0 not.

    Returns:
        {"top1", "top5", "loss", "examples", "crops"}.

    Raises:
        ValueError: For invalid arguments; FileNotFoundError for a missing path.
    """
    from kerascnn.data import CROPS, evaluate_crops, load

    validation.check_choice(crops, "crops", CROPS)
    validation.check_positive_int(batch_size, "batch_size")
    validation.check_choice(verbose, "verbose", (0, 1, 2))
    model, info = _open_model(model_or_path)
    from kerascnn.training.fit import inference_model

    model = inference_model(model)
    shape = tuple(model.inputs[0].shape[1:])
    if resize_scale is None:
        resize_scale = IMAGENET_RESIZE if max(shape[:2]) > _SMALL_INPUT else 1.0
    policy = [("resize", {"scale": resize_scale})] if resize_scale != 1.0 else None
    bundle = load(
        data, input_shape=shape, batch_size=batch_size,
        split=(None, split) if isinstance(split, str) else split,
        validation_split=validation_split, seed=seed, augmentation=policy,
        normalization=normalization or info.get("normalization") or "unit",
        data_dir=data_dir, verbose=verbose, shuffle=False,
    )
    if bundle.validation is None:
        raise ValueError("data has nothing held out to evaluate; pass split= or a "
                         f"validation_split above 0. Received: validation_split={validation_split}")
    return evaluate_crops(model, bundle, crops=crops, verbose=verbose)
