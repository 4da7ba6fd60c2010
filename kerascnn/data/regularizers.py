"""The data-side regularizers of today's recipes, as Keras's own layers inside the tf.data
training pipeline: RandAugment or TrivialAugment and random erasing on each image, mixup or cutmix
on each batch, with one-hot labels for label smoothing and mixing.

RandAugment and erasing see float32 images with values in [0, 255] (before normalization), the
range their layers are told; mixing is linear, so batches are mixed after normalization.
References: RandAugment, Cubuk et al., CVPR-W 2020; TrivialAugment, Muller & Hutter, ICCV 2021; Random Erasing, Zhong et al., AAAI 2020; mixup, Zhang et al., ICLR 2018;
CutMix, Yun et al., ICCV 2019. The batch-level switch between mixup and cutmix, and the
probability that a batch is mixed at all, follow timm's `Mixup` (`switch_prob`, `prob`).

Every transform takes an optional `seed`, a (2,) integer tensor from which all its random draws
are made (`map_seeded` gives each element of a dataset its own): a seeded run then draws the
same whatever order tf.data's parallel calls run in.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["image_transform", "batch_transform", "MixingSwitch", "map_seeded", "IMAGE_SEEDS",
           "BATCH_SEEDS"]

_RANGE = (0.0, 255.0)
# `map_seeded`'s streams: a run's images and its batches draw independently from one seed.
IMAGE_SEEDS, BATCH_SEEDS = 1, 2


def image_transform(*, auto_augment: str | None = None, ops: int = 2, magnitude: float = 0.5,
                    erasing: float = 0.0, erasing_fill: float | None = None, seed: int = 0):
    """A function of one (H, W, C) image in [0, 255], or None when there is nothing to do.

    Each image draws its own ops, as in both papers; one call of Keras's `RandAugment` on a
    batch would put the whole batch through the same ops. The function takes the image and an
    optional `seed` (see the module's docstring); without one it draws from generators seeded
    with `seed`.

    Args:
        auto_augment: None, "randaugment" (Keras's `RandAugment` with `ops` ops) or
            "trivialaugment" (one op at a strength drawn uniformly up to `magnitude`; Keras's
            `RandAugment` draws the strength of each op that way).
        ops: Ops per image for "randaugment".
        magnitude: The largest strength, in [0, 1].
        erasing: Probability of erasing one random rectangle (area 2% to 33%).
        erasing_fill: The rectangle's value, or None for Keras's noise.
        seed: Seed of the draws made without a `seed` tensor.
    """
    seeds = _CallSeeds(seed)
    steps = []
    if auto_augment is not None:
        count = 1 if auto_augment == "trivialaugment" else int(ops)
        steps += [_one_of(keras.layers.RandAugment(
            value_range=_RANGE, num_ops=count, factor=float(magnitude)), seeds)] * count
    if erasing:
        # Keras's `factor` p draws each image's probability uniformly in [0, p]; (p, p) is p.
        erase = seeds.drive(keras.layers.RandomErasing(
            factor=(float(erasing), float(erasing)), fill_value=erasing_fill, value_range=_RANGE))
        steps.append(lambda image: erase(image, training=True))
    if not steps:
        return None

    def transform(image, seed=None):
        seeds.start(seed)
        for step in steps:
            image = step(image)
        return tf.clip_by_value(tf.cast(image, tf.float32), *_RANGE)

    return transform


def _one_of(rand_augment, seeds: "_CallSeeds"):
    """One op of Keras's `RandAugment`, drawn at random, applied to an image.

    `RandAugment.call` runs all eleven ops and keeps one with `where`; running only the chosen
    one (`tf.switch_case` over the same layers, with the same strengths) is eleven times less
    work, which on a CPU is more than the training step of a small network.
    """
    # pylint: disable=protected-access
    ops = [seeds.drive(getattr(rand_augment, name)) for name in rand_augment._AUGMENT_LAYERS]

    def apply(image):
        index = keras.random.randint((), 0, len(ops), seed=seeds)
        branches = [lambda op=op: tf.cast(op(image, training=True), tf.float32) for op in ops]
        return tf.switch_case(index, branches)

    return apply


class _CallSeeds(keras.random.SeedGenerator):
    """The seeds of Keras's random layers in one call of a transform, made from that call's seed.

    A layer's own `SeedGenerator` is a variable that each draw advances; tf.data's parallel calls
    advance it in whatever order they run, so two runs with one seed differ. The layers this
    drives instead fold the number of each draw in the call into the call's seed, the way a
    `SeedGenerator` counts its draws: the same seed gives the same draws in any order.
    """

    def __init__(self, seed: int):
        super().__init__(seed)
        self._key = None
        self._draws = 0

    def drive(self, layer):
        """The layer, drawing from these seeds."""
        # Past the layer's attribute tracking: its own generator stays its tracked state.
        object.__setattr__(layer, "generator", self)
        return layer

    def start(self, seed=None) -> None:
        """Begins a call: its draws come from `seed`, or from the next state without one."""
        seed = super().next() if seed is None else seed
        self._key = tf.random.stateless_uniform((), tf.cast(seed, tf.int64), minval=None,
                                                maxval=None, dtype=tf.int64)
        self._draws = 0

    def next(self, ordered=True):
        if self._key is None:
            raise RuntimeError("start() must begin a call before its draws.")
        self._draws += 1
        return tf.stack([self._key, tf.constant(self._draws, tf.int64)])


def map_seeded(dataset, transform, seed: int, stream: int):
    """`dataset.map(transform)` in parallel, each element with a seed of its own.

    `transform` takes an element's parts and `seed=`, a (2,) int64 tensor. The seeds are drawn
    afresh every pass (from `seed`, independently for each `stream`), so each pass draws anew and
    a run with the same seed draws the same.
    """
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2).map(
        lambda pair: tf.random.experimental.stateless_fold_in(pair, stream))
    return tf.data.Dataset.zip(dataset, seeds).map(
        lambda element, pair: transform(*element, seed=pair),
        num_parallel_calls=tf.data.AUTOTUNE)


class MixingSwitch(keras.callbacks.Callback):
    """Turns mixing off from epoch `stop_epoch` on (a variable the pipeline reads: the iterator
    of each epoch is created after `on_epoch_begin`)."""

    def __init__(self, stop_epoch: int | None):
        super().__init__()
        self.stop_epoch = stop_epoch
        self.enabled = tf.Variable(True, trainable=False, name="mixing_enabled")

    def on_epoch_begin(self, epoch, logs=None):
        self.enabled.assign(self.stop_epoch is None or epoch < self.stop_epoch)


def batch_transform(num_classes: int, *, soft_labels: bool, mixup_alpha: float = 0.0,
                    cutmix_alpha: float = 0.0, probability: float = 1.0,
                    switch_probability: float = 0.5, switch: MixingSwitch | None = None,
                    seed: int = 0):
    """A function of a batch `(images, int labels)`, or None when labels stay sparse and nothing
    is mixed.

    Labels become one-hot float32 `(B, num_classes)` when `soft_labels`. A batch is mixed with
    `probability`; with both mixup and cutmix on, it is cut-mixed with `switch_probability`, else
    mixed up. `switch` (a `MixingSwitch`) turns mixing off after its epoch. The function takes an
    optional `seed` as `image_transform`'s does.
    """
    mixes = bool(mixup_alpha or cutmix_alpha) and probability > 0
    if not soft_labels and not mixes:
        return None
    seeds = _CallSeeds(seed)
    mixup = seeds.drive(keras.layers.MixUp(alpha=float(mixup_alpha))) if mixup_alpha else None
    cutmix = seeds.drive(keras.layers.CutMix(factor=float(cutmix_alpha))) \
        if cutmix_alpha else None
    if not (mixup and cutmix):
        switch_probability = 1.0 if cutmix else 0.0

    def transform(images, labels, seed=None):
        labels = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
        if not mixes:
            return images, labels
        seeds.start(seed)
        draws = keras.random.uniform((2,), seed=seeds)
        mixed_images, mixed_labels = images, labels
        for layer, chosen in ((mixup, draws[1] >= switch_probability),
                              (cutmix, draws[1] < switch_probability)):
            if layer is None:
                continue
            out = layer({"images": images, "labels": labels}, training=True)
            mixed_images = tf.where(chosen, tf.cast(out["images"], tf.float32), mixed_images)
            mixed_labels = tf.where(chosen, tf.cast(out["labels"], tf.float32), mixed_labels)
        apply = draws[0] < probability
        if switch is not None:
            apply = tf.logical_and(apply, switch.enabled)
        return tf.where(apply, mixed_images, images), tf.where(apply, mixed_labels, labels)

    return transform
