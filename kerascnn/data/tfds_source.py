"""tensorflow-datasets as a source, with an error that says how to prepare missing data."""

from __future__ import annotations

import difflib
import os

import tensorflow as tf

from kerascnn.data.sources import Source
from kerascnn.data.splits import select, validation_mask

__all__ = ["tfds_source"]

# Names kerascnn's recipes use; shown as suggestions when a name is unknown.
KNOWN = ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn_cropped", "imagenette",
         "imagenet2012", "imagenet_v2", "oxford_flowers102", "caltech101", "food101")


def _builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        names = sorted(set(KNOWN) | set(tfds.list_builders()))
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            "data must be a tensorflow-datasets name, an existing folder of images, 'digits', an "
            f"(x, y) pair of numpy arrays, or a tf.data.Dataset.{hint} Received: data={name!r}"
        ) from None


def _not_prepared(builder, name: str, data_dir: str | None, manual_dir: str | None) -> ValueError:
    root = data_dir or getattr(builder, "_data_dir_root", None) or "~/tensorflow_datasets"
    manual = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if manual:
        manual_dir = manual_dir or os.path.join(root, "downloads", "manual")
        steps = (
            f"it needs a manual download: {' '.join(manual.split())} Put those files in "
            f"{manual_dir} and prepare it once with `tfds build {name} --data_dir={root} "
            f"--manual_dir={manual_dir}` (or kerascnn.data.load(..., download=True, "
            f"manual_dir={manual_dir!r}))."
        )
    else:
        steps = (
            f"prepare it once on a machine with network access with `tfds build {name} "
            f"--data_dir={root}` (or in Python: tensorflow_datasets.builder({name!r}, "
            f"data_dir={root!r}).download_and_prepare(), or kerascnn.data.load(..., "
            f"download=True)), then copy {root} here if needed."
        )
    return ValueError(
        f"The tensorflow-datasets dataset {name!r} is not prepared in data_dir={root!r}, and it "
        f"is not downloaded automatically; {steps} Received: data={name!r}, data_dir={data_dir!r}"
    )


def _open(builder, split: str, name: str, data_dir, manual_dir) -> tf.data.Dataset:
    try:
        return builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    except AssertionError as error:  # tfds signals missing data with an assertion.
        if "could not find data" in str(error):
            raise _not_prepared(builder, name, data_dir, manual_dir) from None
        raise
    except (ValueError, KeyError) as error:
        if "split" in str(error).lower():
            known = ", ".join(builder.info.splits) or "unknown"
            raise ValueError(
                f"split {split!r} does not exist in {name!r} (its splits: {known}). "
                f"Received: split={split!r}"
            ) from None
        raise


def _count(dataset: tf.data.Dataset) -> int:
    count = int(dataset.cardinality())
    if count >= 0:
        return count
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def tfds_source(name: str, *, split, validation_split: float, seed: int, num_classes,
                data_dir: str | None, download: bool = False, manual_dir: str | None = None
                ) -> Source:
    """A tensorflow-datasets image classification dataset, read with `as_supervised=True`.

    Split rules: `split=None` trains on "train" and validates on "validation" when the dataset
    has one, else on a seeded `validation_split` carved from "train"; a single split string
    trains on it and carves the validation from it; a `(train, validation)` pair is used as is.
    """
    builder = _builder(name, data_dir)
    if download:
        import tensorflow_datasets as tfds

        config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
        builder.download_and_prepare(download_config=config)
    info = builder.info
    if info.supervised_keys is None or len(info.supervised_keys) != 2:
        raise ValueError(
            f"data must be an image classification dataset with (image, label) supervised keys. "
            f"Received: data={name!r} with supervised_keys={info.supervised_keys!r}"
        )
    image_key, label_key = info.supervised_keys
    label_feature = info.features[label_key]
    class_names = list(getattr(label_feature, "names", None) or [])
    if num_classes is not None and class_names and num_classes != len(class_names):
        raise ValueError(
            f"num_classes differs from the {len(class_names)} classes of {name!r}. "
            f"Received: num_classes={num_classes}"
        )
    class_names = class_names or [str(i) for i in range(num_classes or 0)]
    if not class_names:
        raise ValueError(f"{name!r} does not say how many classes it has; pass num_classes.")
    if isinstance(split, tuple):
        train_split, validation_split_name = split
        carve = False
    else:
        train_split = split or "train"
        has_validation = split is None and "validation" in info.splits
        validation_split_name = "validation" if has_validation else None
        carve = not has_validation and validation_split > 0
    cast = lambda image, label: (image, tf.cast(label, tf.int32))  # noqa: E731
    train = validation = None
    train_examples = validation_examples = 0
    if train_split is not None:
        train = _open(builder, train_split, name, data_dir, manual_dir).map(cast)
        train_examples = _count(train)
    if validation_split_name is not None:
        validation = _open(builder, validation_split_name, name, data_dir, manual_dir).map(cast)
        validation_examples = _count(validation)
    elif carve and train is not None:
        mask = validation_mask(train_examples, validation_split, seed)
        if mask.any():
            train, validation = select(train, mask, False), select(train, mask, True)
            train_examples, validation_examples = int((~mask).sum()), int(mask.sum())
    shape = tuple(info.features[image_key].shape)
    return Source(
        train=train,
        validation=validation,
        train_examples=train_examples,
        validation_examples=validation_examples,
        class_names=class_names,
        image_shape=shape if None not in shape else None,
        validation_from=("split" if validation_split_name is not None
                         else "hold-out" if validation is not None else ""),
    )
