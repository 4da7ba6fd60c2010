"""`kerascnn.data.load`: one entry point from any supported data to batched `tf.data` pipelines."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from kerascnn.data import augmentation as augmentation_lib
from kerascnn.data.checks import MAX_CLASSES
from kerascnn.data.counting import drops_last_batch
from kerascnn.data.normalization import NORMALIZATIONS, normalize
from kerascnn.data.regularizers import IMAGE_SEEDS, map_seeded
from kerascnn.data.sources import Source, array_source, dataset_source, digits_source
from kerascnn.data.transforms import (
    center_crop,
    convert_channels,
    prepared_size,
    resize_cover,
    to_uint8,
)
from kerascnn.validation import check_choice, check_fraction, check_positive_int

__all__ = ["DataBundle", "load"]

AUTOTUNE = tf.data.AUTOTUNE
# In-memory caches and shuffle buffers stay below these sizes (decoded uint8 pixels).
CACHE_BYTES = 2 << 30
SHUFFLE_BYTES = 256 << 20


@dataclasses.dataclass
class DataBundle:
    """Batched training and validation pipelines plus what the model needs to know about them.

    Attributes:
        train: Batches `(images float32 (B, H, W, C), labels int32 (B,))`, shuffled and augmented
            (None only when `split=(None, ...)` asked for no training split).
        validation: Batches of the held-out split, center-cropped and normalized, or None.
        class_names: One name per class index.
        num_classes: `len(class_names)`.
        train_examples: Examples in one pass over `train`.
        validation_examples: Examples in one pass over `validation` (0 when None).
        input_shape: `(H, W, C)` of the images.
        validation_uncropped: The validation batches at the size the augmentation policy prepares
            (for example 256x256 for AlexNet's 224 crops), for center- and 10-crop evaluation;
            the same as `validation` when the policy crops nothing.
        normalization: The normalization mode the images went through.
        augmentation: The augmentation policy applied to `train` (fitted, e.g. with PCA statistics).
        validation_from: Where `validation` came from: "hold-out" (the seeded `validation_split`
            share of the training data), "split" (the data's own validation split, or the one
            `split` named), "all" (every example: `load(..., test_set=True)`), "" without one.
    """

    train: tf.data.Dataset | None
    validation: tf.data.Dataset | None
    class_names: list[str]
    num_classes: int
    train_examples: int
    validation_examples: int
    input_shape: tuple
    validation_uncropped: tf.data.Dataset | None = None
    normalization: str = "unit"
    augmentation: augmentation_lib.Policy | None = None
    validation_from: str = ""


def _check_input_shape(input_shape) -> tuple:
    ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
    ok = ok and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                    for d in input_shape)
    if not ok:
        raise ValueError(
            "input_shape must be a tuple of 3 positive integers (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(int(d) for d in input_shape)


def _check_split(split):
    if split is None or isinstance(split, str):
        return split
    if isinstance(split, (tuple, list)) and len(split) == 2 and all(
        s is None or isinstance(s, str) for s in split
    ):
        return tuple(split)
    raise ValueError(
        "split must be None, a split name in tensorflow-datasets syntax ('train', "
        "'train[:80%]', 'test' ...), or a (train_split, validation_split) pair. "
        f"Received: split={split!r}"
    )


def _open_source(data, *, split, validation_split, seed, num_classes, data_dir, verbose,
                 download, manual_dir, test_set=False) -> Source:
    if isinstance(data, tf.data.Dataset):
        _no_split(split, "a tf.data.Dataset")
        return dataset_source(data, validation_split, seed, num_classes)
    if isinstance(data, (tuple, list)):
        _no_split(split, "numpy arrays")
        return array_source(data, validation_split, seed, num_classes)
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    if not isinstance(data, str):
        raise ValueError(
            "data must be a tensorflow-datasets name, a folder of images with one sub-folder per "
            "class, 'digits', an (x, y) pair of numpy arrays, or a tf.data.Dataset. "
            f"Received: data of type {type(data).__name__}"
        )
    if data == "digits":
        _no_split(split, "'digits'")
        return digits_source(validation_split, seed, num_classes)
    if os.path.isdir(data) or os.path.sep in data or data.startswith("."):
        from kerascnn.data.folders import folder_source

        return folder_source(data, split=split, validation_split=validation_split, seed=seed,
                             num_classes=num_classes, verbose=verbose)
    from kerascnn.data.tfds_source import tfds_source

    if test_set and split is None:
        split = (None, "test")
    return tfds_source(data, split=split, validation_split=validation_split, seed=seed,
                       num_classes=num_classes, data_dir=data_dir, download=download,
                       manual_dir=manual_dir)


def _no_split(split, what: str) -> None:
    if split is not None:
        raise ValueError(
            f"split applies to tensorflow-datasets names and folders with split sub-folders, not "
            f"to {what}; use validation_split. Received: split={split!r}"
        )


def _as_test_set(source: Source) -> Source:
    """The source with no training split: its own validation split if it has one, else all of it."""
    if source.validation is not None:
        return dataclasses.replace(source, train=None, train_examples=0)
    return dataclasses.replace(source, train=None, train_examples=0, validation=source.train,
                               validation_examples=source.train_examples, validation_from="all")


def _prepare_fn(channels: int, size: tuple[int, int]):
    """Raw (image, label) -> (uint8 image at the stored size with the model's channels, label)."""

    def prepare(image, label):
        if image.dtype == tf.uint8 and tuple(image.shape) == (*size, channels):
            return image, label  # Already stored as it should be (CIFAR at 32x32, say).
        image = tf.cast(image, tf.float32)
        image = convert_channels(image, channels)
        image = resize_cover(image, size)
        return to_uint8(image), label

    return prepare


def _maybe_cache(dataset, cache, examples: int, size, channels: int, role: str):
    if cache is False or cache is None:
        return dataset
    if isinstance(cache, (str, os.PathLike)):  # One file set per split.
        return dataset.cache(f"{os.fspath(cache)}_{role}")
    if examples * size[0] * size[1] * channels <= CACHE_BYTES:
        return dataset.cache()
    return dataset


def _shuffle_buffer(examples: int, size, channels: int) -> int:
    per_image = max(1, size[0] * size[1] * channels)
    return int(max(1, min(examples, max(1024, SHUFFLE_BYTES // per_image))))


def load(
    data,
    *,
    input_shape,
    batch_size: int = 32,
    split=None,
    validation_split: float = 0.1,
    data_dir: str | None = None,
    augmentation=None,
    normalization: str = "unit",
    seed: int = 0,
    shuffle: bool = True,
    cache=True,
    num_classes: int | None = None,
    verbose: int = 1,
    download: bool = False,
    manual_dir: str | None = None,
    test_set: bool = False,
    image_transform=None,
) -> DataBundle:
    """Turns a dataset of any supported kind into batched, normalized `tf.data` pipelines.

    Images become float32 `(B, H, W, C)` batches in the model's size and channels, normalized by
    `normalization`; labels become int32 class indices `(B,)` for sparse categorical losses.
    Pipelines decode and augment in parallel (AUTOTUNE), cache decoded images in memory when
    they fit (2 GiB) and prefetch. Augmentation runs on the training split only.

    Args:
        data: A tensorflow-datasets name ("mnist", "cifar10", "cifar100", "svhn_cropped",
            "imagenette", "imagenet2012" ...); a folder of images with one sub-folder per class
            (or with split sub-folders such as "train" and "val" holding those); "digits"
            (scikit-learn's 1,797 8x8 digits, offline); an `(x, y)` pair of numpy arrays; or a
            `tf.data.Dataset` of `(image, label)` (batched or not).
        input_shape: `(H, W, C)` of the model's input; C of 1 or 3 (images are converted).
        batch_size: Batch size (default 32).
        split: tensorflow-datasets split syntax for the training split ("train[:50%]"), or a
            `(train_split, validation_split)` pair such as `("train", "test")`; either may be
            None. Default: "train", and the dataset's "validation" split when it has one.
        validation_split: Share of the training data held out (seeded, stratified where labels
            are known up front) when there is no explicit validation split (default 0.1; 0 for
            none).
        data_dir: tensorflow-datasets data directory (default: tfds's own).
        augmentation: None, a policy name ("cifar", "alexnet", "inception", "vgg", "flip" ...,
            see `kerascnn.data.POLICIES`), a list of ops, or a `Policy`.
        normalization: "unit" ([0, 1], default), "caffe", "torch" or "tf" (see `normalize`).
        seed: Seed of the validation split, shuffling and augmentation.
        shuffle: Whether to reshuffle the training split every epoch.
        cache: True caches decoded images in memory when they fit, False never caches, a path
            prefix caches to files (`PREFIX_train`, `PREFIX_validation`).
        num_classes: Number of classes when the labels do not show all of them.
        verbose: 1 shows progress bars for long preparation steps (scanning a folder), 0 not.
        download: For tensorflow-datasets names: download and prepare the data when it is
            missing (needs the network) instead of raising.
        manual_dir: For datasets with manual downloads (imagenet2012): where the archives are.
        test_set: True reads `data` as a separate test set, all of it to evaluate: no training
            split, and `validation` holds every example (a folder's images, the arrays, "digits"),
            or the data's own validation split where it has one (a folder of "train" and "val"
            sub-folders), or for a tensorflow-datasets name its "test" split (`split` may name
            another). `validation_split` does not apply.
        image_transform: A function of one training image (float32, model size, [0, 255])
            and `seed=`, that image's seed for stateless random ops, applied after
            `augmentation`: RandAugment, random erasing
            (`kerascnn.data.regularizers.image_transform`).

    Returns:
        A `DataBundle`.

    Raises:
        ValueError: For invalid arguments (naming the argument and the value), unprepared
            tensorflow-datasets data (saying how to prepare it), a folder with no usable
            images, or bad data, before any training step: NaN or infinite values, labels
            outside [0, num_classes), images and labels of different lengths, images of mixed
            sizes in a list, a dataset of another structure (each naming the positions or the
            element_spec; a `tf.data.Dataset` is checked on its element_spec and first
            elements, see `kerascnn.data.checks`).
    """
    input_shape = _check_input_shape(input_shape)
    check_positive_int(batch_size, "batch_size")
    check_fraction(validation_split, "validation_split")
    check_choice(normalization, "normalization", NORMALIZATIONS)
    check_positive_int(seed, "seed", minimum=0)
    if num_classes is not None:
        check_positive_int(num_classes, "num_classes")
        if num_classes > MAX_CLASSES:
            raise ValueError(f"num_classes must be at most {MAX_CLASSES}. "
                             f"Received: num_classes={num_classes}")
    split = _check_split(split)
    policy = augmentation_lib.get_policy(augmentation)
    if normalization in ("caffe", "torch") and input_shape[2] != 3:
        raise ValueError(
            f"normalization={normalization!r} needs 3-channel inputs. "
            f"Received: input_shape={input_shape!r}"
        )
    source = _open_source(data, split=split, validation_split=0.0 if test_set else validation_split,
                          seed=seed, num_classes=num_classes, data_dir=data_dir, verbose=verbose,
                          download=download, manual_dir=manual_dir, test_set=test_set)
    if test_set:
        source = _as_test_set(source)
    channels = input_shape[2]
    size = input_shape[:2]
    options = tf.data.Options()
    options.deterministic = True

    def prepared(dataset, scale):
        stored = prepared_size(input_shape, scale)
        dataset = dataset.map(_prepare_fn(channels, stored), num_parallel_calls=AUTOTUNE)
        return dataset.with_options(options), stored

    train = None
    if source.train is not None:
        train, stored = prepared(source.train, policy.train_resize_scale)
        policy = policy.fit(train, verbose=verbose)  # Before caching: a partial read is fine.
        train = _maybe_cache(train, cache, source.train_examples, stored, channels, "train")
        train = _training_pipeline(train, source.train_examples, policy, input_shape, stored,
                                   normalization, batch_size, seed, shuffle,
                                   image_transform)
    validation = uncropped = None
    if source.validation is not None:
        base, stored = prepared(source.validation, policy.resize_scale)
        base = _maybe_cache(base, cache, source.validation_examples, stored, channels,
                            "validation")

        def finish(crop):
            def fn(images, labels):
                if crop and stored != size:
                    images = center_crop(images, size)
                return normalize(images, normalization), labels

            return fn

        # Batch first: cropping and normalizing whole batches is vectorized.
        batches = base.batch(batch_size)
        validation = batches.map(finish(True), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
        uncropped = validation
        if stored != size:
            uncropped = batches.map(finish(False), num_parallel_calls=AUTOTUNE)
            uncropped = uncropped.prefetch(AUTOTUNE)
    return DataBundle(
        train=train,
        validation=validation,
        class_names=list(source.class_names),
        num_classes=len(source.class_names),
        train_examples=source.train_examples,
        validation_examples=source.validation_examples if validation is not None else 0,
        input_shape=input_shape,
        validation_uncropped=uncropped,
        normalization=normalization,
        augmentation=policy,
        validation_from=source.validation_from if validation is not None else "",
    )


def _training_pipeline(dataset, examples, policy, input_shape, stored, normalization,
                       batch_size, seed, shuffle, image_transform=None):
    channels = input_shape[2]
    if shuffle:
        dataset = dataset.shuffle(_shuffle_buffer(examples, stored, channels), seed=seed,
                                  reshuffle_each_iteration=True)
    size = input_shape[:2]
    if policy.is_random:
        # One stateless seed per example keeps parallel augmentation reproducible, and
        # rerandomize_each_iteration draws new ones every epoch.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds)

        def augment(example, pair):
            image, label = example
            return policy.apply(tf.cast(image, tf.float32), pair, size), label

        dataset = dataset.map(augment, num_parallel_calls=AUTOTUNE)

    cropped = policy.is_random
    if image_transform is not None:
        def transform(image, label, seed):
            image = tf.cast(image, tf.float32)
            if not cropped and stored != size:
                image = center_crop(image, size)
            # Keras's image layers need to know the channels.
            return image_transform(tf.ensure_shape(image, (*size, channels)), seed=seed), label

        dataset = map_seeded(dataset, transform, seed, stream=IMAGE_SEEDS)
        cropped = True

    def finish(images, labels):
        if not cropped and stored != size:
            images = center_crop(images, size)
        # Some augmentation ops leave the channels unknown to the graph; normalizing needs them.
        return normalize(tf.ensure_shape(images, (None, *size, channels)), normalization), labels

    # Normalizing whole batches is vectorized, and uint8 batches move a quarter of the bytes.
    dataset = dataset.batch(batch_size, drop_remainder=drops_last_batch(examples, batch_size))
    return dataset.map(finish, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
