"""Augmentation ops and policies running inside the tf.data pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data as kdata
from kerascnn.data import ops

SEED = tf.constant([3, 7], tf.int64)


def _image(height=8, width=10, channels=3):
    return tf.reshape(tf.range(height * width * channels, dtype=tf.float32) % 251,
                      (height, width, channels))


def _seeds(count):
    return [tf.constant([i, 2 * i + 1], tf.int64) for i in range(count)]


def test_flip_is_a_mirror_image_half_of_the_time():
    image = _image()
    always = ops.flip(image, SEED, (8, 10), probability=1.0)
    np.testing.assert_array_equal(always.numpy(), image.numpy()[:, ::-1])
    flipped = [not np.array_equal(ops.flip(image, s, (8, 10)).numpy(), image.numpy())
               for s in _seeds(200)]
    assert 70 < sum(flipped) < 130


def test_pad_crop_shifts_by_at_most_the_padding():
    image = tf.ones((32, 32, 3)) * 200.0
    shifted = [ops.pad_crop(image, s, (32, 32), padding=4).numpy() for s in _seeds(40)]
    assert all(out.shape == (32, 32, 3) for out in shifted)
    for out in shifted:
        rows = np.flatnonzero(out[:, :, 0].max(axis=1))
        cols = np.flatnonzero(out[:, :, 0].max(axis=0))
        # He et al. 2016: 4-pixel padding, so at most 4 rows/columns of zeros on one side.
        assert len(rows) >= 28 and len(cols) >= 28
    assert len({out.tobytes() for out in shifted}) > 10


def test_random_crop_takes_a_window_of_the_model_size():
    image = _image(12, 12, 3)
    crop = ops.random_crop(image, SEED, (10, 10)).numpy()
    assert crop.shape == (10, 10, 3)
    windows = [image.numpy()[y:y + 10, x:x + 10] for y in range(3) for x in range(3)]
    assert any(np.array_equal(crop, w) for w in windows)


def test_random_resized_crop_and_scale_jitter_sizes():
    image = tf.random.stateless_uniform((40, 50, 3), (0, 1), maxval=255.0)
    assert ops.random_resized_crop(image, SEED, (16, 16)).shape == (16, 16, 3)
    for seed in _seeds(5):
        jittered = ops.scale_jitter(image, seed, (16, 16), min_scale=1.5, max_scale=2.0)
        shorter = min(jittered.shape[:2])
        # VGG-style jitter: the shorter side becomes S in [1.5, 2.0] x 16 pixels.
        assert 24 <= shorter <= 32
        assert jittered.shape[1] / jittered.shape[0] == pytest.approx(50 / 40, abs=0.05)


def test_cutout_zeroes_one_square_of_at_most_the_length():
    image = tf.fill((32, 32, 3), 255.0)
    sides = []
    for seed in _seeds(30):
        out = ops.cutout(image, seed, (32, 32), length=16).numpy()
        zero = np.all(out == 0, axis=-1)
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        assert zero.sum() == len(rows) * len(cols)  # one filled rectangle
        assert np.all(out[~zero] == 255)
        sides.append((len(rows), len(cols)))
    # DeVries & Taylor 2017: a 16x16 square whose center may lie near the border (clipped).
    assert max(sides) == (16, 16) and all(h <= 16 and w <= 16 for h, w in sides)


def test_pca_lighting_moves_colours_along_the_principal_components():
    # Pixels that vary only along one colour direction: the covariance has rank 1 and its
    # eigenvector is that direction, so the lighting shift must lie along it.
    direction = np.array([0.6, 0.3, 0.1]) / np.linalg.norm([0.6, 0.3, 0.1])
    values = np.random.default_rng(0).uniform(0, 255, (64, 4, 4, 1))
    images = np.clip(values * direction, 0, 255).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(64, np.int32)))
    policy = kdata.Policy([("pca_lighting", {"stddev": 0.1})]).fit(dataset)
    params = policy.ops[0][1]
    top = np.array(params["eigenvectors"])[:, 0]
    assert abs(top @ direction) == pytest.approx(1.0, abs=1e-6)
    assert params["eigenvalues"][0] == pytest.approx(np.var(values / 255.0), rel=1e-6)
    assert params["eigenvalues"][1] == pytest.approx(0.0, abs=1e-9)
    image = tf.fill((4, 4, 3), 100.0)
    for seed in _seeds(5):
        shift = ops.pca_lighting(image, seed, (4, 4), **params).numpy() - 100.0
        assert np.ptp(shift.reshape(-1, 3), axis=0).max() < 1e-4  # same shift on every pixel
        assert np.linalg.norm(np.cross(shift[0, 0], direction)) < 1e-3


def test_pca_lighting_alpha_has_the_paper_deviation():
    # Krizhevsky et al. 2012, 4.1: alpha_i ~ N(0, 0.1); recover alpha from the shift with the
    # ImageNet eigenpairs of fb.resnet.torch.
    vectors = np.array(ops.IMAGENET_PCA["eigenvectors"])
    values = np.array(ops.IMAGENET_PCA["eigenvalues"])
    image = tf.zeros((1, 1, 3))
    shifts = np.stack([ops.pca_lighting(image, s, (1, 1), stddev=0.1, **ops.IMAGENET_PCA)
                       .numpy()[0, 0] for s in _seeds(400)]) / 255.0
    alphas = np.linalg.solve(vectors, shifts.T).T / values
    assert alphas.std(axis=0) == pytest.approx([0.1, 0.1, 0.1], abs=0.015)
    with pytest.raises(ValueError, match="eigenvalues"):
        ops.pca_lighting(image, SEED, (1, 1))


def test_affine_ops_are_identity_at_zero_and_rotate_exactly():
    image = _image(9, 9, 1)
    identity = tf.eye(3)
    for matrix in (ops.rotation(SEED, 9.0, 9.0, degrees=0.0),
                   ops.shear(SEED, 9.0, 9.0, degrees=0.0),
                   ops.stretch(SEED, 9.0, 9.0, factor=0.0),
                   ops.translation(SEED, 9.0, 9.0, height_factor=0.0, width_factor=0.0)):
        np.testing.assert_allclose(matrix.numpy(), identity.numpy(), atol=1e-6)
    # A 90-degree rotation about the center is an exact pixel permutation.
    quarter = ops._centered(tf.constant([[0.0, -1.0], [1.0, 0.0]]), 9.0, 9.0)
    rotated = ops.apply_affine(image, quarter).numpy()[..., 0]
    source = image.numpy()[..., 0]
    # Output (x, y) samples input (x', y') = (-(y - 4) + 4, (x - 4) + 4).
    expected = np.array([[source[x, 8 - y] for x in range(9)] for y in range(9)])
    np.testing.assert_allclose(rotated, expected, atol=1e-3)
    shift = tf.constant([[1.0, 0.0, -2.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    moved = ops.apply_affine(image, shift, fill_mode="constant").numpy()[..., 0]
    np.testing.assert_allclose(moved[:, 2:], source[:, :-2], atol=1e-4)
    assert np.all(moved[:, :2] == 0)


def test_policies_are_data_deterministic_and_fused():
    policy = kdata.get_policy("geometric")
    assert [op for op, _ in policy._steps()] == ["affine", "flip"]  # one resampling
    rebuilt = kdata.Policy.from_config(policy.get_config())
    image = _image(16, 16, 3)
    first = policy.apply(image, SEED, (16, 16)).numpy()
    np.testing.assert_array_equal(first, rebuilt.apply(image, SEED, (16, 16)).numpy())
    assert not np.array_equal(first, policy.apply(image, SEED + 1, (16, 16)).numpy())
    assert first.min() >= 0 and first.max() <= 255
    custom = kdata.get_policy([{"op": "rotation", "degrees": 5}, "flip", ("cutout",
                                                                          {"length": 4})])
    assert [op for op, _ in custom.ops] == ["rotation", "flip", "cutout"]
    with pytest.raises(ValueError, match="Received: op='rotate'"):
        kdata.get_policy(["rotate"])
    with pytest.raises(ValueError, match="Received: angle=5"):
        kdata.get_policy([("rotation", {"angle": 5})])
    assert set(kdata.POLICIES) >= {"cifar", "alexnet", "vgg", "resnet", "inception", "cutout",
                                   "geometric", "scale_jitter"}


def test_alexnet_policy_in_the_pipeline():
    x = np.random.default_rng(0).integers(0, 255, (40, 20, 24, 3), dtype=np.uint8)
    bundle = kdata.load((x, np.arange(40) % 2), input_shape=(56, 56, 3), batch_size=16,
                        augmentation="alexnet", validation_split=0.2)
    images, _ = next(iter(bundle.train))
    assert images.shape == (16, 56, 56, 3) and 0 <= images.numpy().min()
    assert images.numpy().max() <= 1.0
    # Krizhevsky et al. 2012: 224 crops of 256x256 images, so images are stored at 256/224 of
    # the input (64 for 56) and validation is their center crop.
    uncropped, _ = next(iter(bundle.validation_uncropped))
    validation, _ = next(iter(bundle.validation))
    assert uncropped.shape[1:3] == (64, 64)
    np.testing.assert_array_equal(validation.numpy(), uncropped.numpy()[:, 4:60, 4:60])
    fitted = dict(bundle.augmentation.ops)["pca_lighting"]
    assert len(fitted["eigenvalues"]) == 3
    # Two passes over the training split see different random crops and colours.
    again, _ = next(iter(bundle.train))
    assert not np.array_equal(images.numpy(), again.numpy())


def test_grayscale_images_through_the_inception_policy_to_torch_normalization():
    # Grayscale images widened to RGB by the pipeline, cropped by the Inception policy, whose
    # colour ops leave the channels unknown to the graph: ImageNet normalization needs them.
    x = np.random.default_rng(0).integers(0, 255, (12, 8, 8, 1), dtype=np.uint8)
    bundle = kdata.load((x, np.arange(12) % 3), input_shape=(32, 32, 3), batch_size=4,
                        augmentation="inception", normalization="torch", validation_split=0.0)
    images, _ = next(iter(bundle.train))
    assert images.shape == (4, 32, 32, 3)
    # Grey pixels, normalized per channel with ImageNet's statistics, differ by channel.
    assert np.isfinite(images.numpy()).all()
    assert not np.allclose(images.numpy()[..., 0], images.numpy()[..., 2])
