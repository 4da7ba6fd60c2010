"""Seeded runs draw the same augmentation and mixing: each image and batch has its own seed, so
the order in which tf.data's parallel calls run changes nothing."""

import numpy as np
import tensorflow as tf

import kerascnn
from kerascnn.data import regularizers
from kerascnn.training.recipes import RECIPES


def _images(count=48, side=24):
    """One image repeated: only the draws make the outputs differ."""
    image = np.random.default_rng(0).uniform(0, 255, size=(side, side, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(
        (np.repeat(image[None], count, axis=0), np.arange(count)))


def _augmented(seed, passes=1):
    transform = regularizers.image_transform(auto_augment="trivialaugment", magnitude=0.9,
                                             erasing=0.5, seed=0)
    dataset = regularizers.map_seeded(
        _images(), lambda image, label, seed: (transform(image, seed=seed), label), seed,
        regularizers.IMAGE_SEEDS)
    return [np.stack([image.numpy() for image, _ in dataset]) for _ in range(passes)]


def test_each_image_draws_its_own_ops_and_a_seed_repeats_them():
    first, second_pass = _augmented(seed=5, passes=2)
    # 48 copies of one image: TrivialAugment's op and strength and the erasing differ by image.
    assert len({out.tobytes() for out in first}) > 30
    assert not np.array_equal(first, second_pass)  # Every pass draws afresh.
    again, again_second = _augmented(seed=5, passes=2)
    assert np.array_equal(first, again) and np.array_equal(second_pass, again_second)
    assert not np.array_equal(first, _augmented(seed=6)[0])


def test_mixing_repeats_with_its_seed():
    images = tf.data.Dataset.from_tensor_slices(
        (np.arange(64, dtype="float32")[:, None, None, None] * np.ones((64, 8, 8, 3), "float32"),
         np.arange(64) % 8)).batch(8)
    mix = regularizers.batch_transform(8, soft_labels=True, mixup_alpha=0.4, cutmix_alpha=1.0,
                                       seed=0)

    def labels(seed):
        return np.concatenate([soft.numpy() for _, soft in regularizers.map_seeded(
            images, mix, seed, stream=regularizers.BATCH_SEEDS)])

    first = labels(3)
    assert np.array_equal(first, labels(3)) and not np.array_equal(first, labels(4))
    assert not np.array_equal(first, np.eye(8)[np.arange(64) % 8])


def test_two_seeded_runs_of_small_data_end_with_the_same_weights():
    digits = kerascnn.data.load("digits", input_shape=(32, 32, 1), batch_size=50,
                                validation_split=0.0, shuffle=False)
    x, y = map(np.concatenate, zip(*[(a.numpy(), b.numpy()) for a, b in digits.train]))
    keep = np.concatenate([np.flatnonzero(y == c)[:5] for c in range(10)])
    data = ((x[keep] * 255).round().astype("uint8"), y[keep])
    # TrivialAugment, random erasing and LeNet-5's own distortions, all random, in parallel.
    recipe = RECIPES["small_data"].replace(min_steps=60, epochs=3)
    weights = []
    for _ in range(2):
        run = kerascnn.train("lenet5", data, recipe=recipe, seed=0, verbose=0, report=False,
                             input_shape=(32, 32, 1))
        weights.append(np.concatenate([w.numpy().ravel() for w in run.model.weights]))
    assert np.array_equal(weights[0], weights[1])
