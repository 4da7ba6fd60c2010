"""Augmentation ops: tf functions of (image, seed, size, **params) used by augmentation policies.

Every op takes one float32 (H, W, C) image with values in [0, 255], a stateless seed of shape
(2,) and the model's (height, width); randomness comes only from the seed, so parallel tf.data
maps stay reproducible. Geometric ops (translation, rotation, shear, stretch) return a 3x3
matrix instead (output pixel -> input pixel); a policy multiplies consecutive ones and resamples
once, so chaining them does not blur the image several times.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from kerascnn.data.transforms import center_crop, resize_cover

__all__ = ["IMAGE_OPS", "AFFINE_OPS", "IMAGENET_PCA", "fit_pca", "apply_affine", "fit_to_size"]

# ImageNet RGB statistics for pixels in [0, 1] as distributed with fb.resnet.torch
# (datasets/imagenet.lua); columns of "eigenvectors" are the eigenvectors.
IMAGENET_PCA = {
    "eigenvalues": [0.2175, 0.0188, 0.0045],
    "eigenvectors": [[-0.5675, 0.7192, 0.4009],
                     [-0.5808, -0.0045, -0.8140],
                     [-0.5836, -0.6948, 0.4203]],
}


def _uniform(seed, low, high, shape=()):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)


def flip(image, seed, size, probability: float = 0.5):
    """Horizontal reflection with `probability` (Krizhevsky et al. 2012, section 4.1)."""
    flipped = tf.reverse(image, axis=[1])
    return tf.where(_uniform(seed, 0.0, 1.0) < probability, flipped, image)


def pad_crop(image, seed, size, padding: int = 4):
    """Zero-pads `padding` pixels on each side and crops back at random (He et al. 2016, 4.2)."""
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


def random_crop(image, seed, size):
    """A random crop of the model's size, e.g. 224 from 256 (Krizhevsky et al. 2012, 4.1)."""
    shape = tf.shape(image)
    return tf.image.stateless_random_crop(image, tf.stack([size[0], size[1], shape[2]]), seed)


def random_resized_crop(image, seed, size, area=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """A crop of random area and aspect ratio resized to the model's size.

    Szegedy et al. 2015 (GoogLeNet, section 6): patches "whose size is distributed evenly between
    8% and 100% of the image area with aspect ratio constrained to [3/4, 4/3]" (torchvision's
    RandomResizedCrop). Falls back to the whole image when no crop fits after 10 attempts.
    """
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4]), seed, min_object_covered=0.0,
        aspect_ratio_range=ratio, area_range=area, max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    return tf.image.resize(crop, size, method="bilinear", antialias=True)


def scale_jitter(image, seed, size, min_scale: float = 256 / 224, max_scale: float = 512 / 224):
    """Isotropic rescaling so the shorter side is S ~ U[min, max] times the model's shorter side.

    Simonyan & Zisserman 2015 (VGG, section 3.1): S sampled from [256, 512] for 224 crops;
    He et al. 2016 (ResNet, 3.4) use [256, 480]. Follow with `random_crop`.
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = _uniform(seed, min_scale, max_scale) * float(min(size))
    scale = target / tf.reduce_min(shape)
    new_size = tf.maximum(tf.cast(tf.math.round(shape * scale), tf.int32), tf.constant(size))
    return tf.image.resize(image, new_size, method="bilinear", antialias=True)


def cutout(image, seed, size, length: int = 16, fill_value: float = 0.0,
           probability: float = 1.0):
    """Masks a `length` x `length` square whose center is uniform over the image.

    DeVries & Taylor 2017 ("Improved Regularization of Convolutional Neural Networks with
    Cutout"): 16x16 on CIFAR-10, 8x8 on CIFAR-100, 20x20 on SVHN; the square may extend past the
    border. The paper zeros normalized (mean-subtracted) inputs, which equals filling with the
    dataset mean; here the op runs before normalization and fills with `fill_value` (default 0,
    black; pass the mean pixel value to match the paper exactly).
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    center_y = tf.random.stateless_uniform([], seeds[0], 0, height, dtype=tf.int32)
    center_x = tf.random.stateless_uniform([], seeds[1], 0, width, dtype=tf.int32)
    top, left = center_y - length // 2, center_x - length // 2
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= top) & (rows < top + length) & (cols >= left) & (cols < left + length)
    inside = inside & (_uniform(seeds[2], 0.0, 1.0) < probability)
    return tf.where(inside[:, :, None], tf.cast(fill_value, image.dtype), image)


def pca_lighting(image, seed, size, stddev: float = 0.1, eigenvalues=None, eigenvectors=None):
    """AlexNet's "fancy PCA" colour augmentation (Krizhevsky et al. 2012, section 4.1).

    Adds `[p1, p2, p3] [a1 l1, a2 l2, a3 l3]^T` to every pixel, with p_i and l_i the
    eigenvectors and eigenvalues of the 3x3 covariance of the training set's RGB values and
    a_i ~ N(0, stddev), drawn once per image. The statistics are those of pixels scaled to
    [0, 1], as in fb.resnet.torch (the formula is not scale-invariant); the shift is scaled
    back to [0, 255]. `kerascnn.data.load` computes them from the training images.
    """
    if eigenvalues is None or eigenvectors is None:
        raise ValueError(
            "pca_lighting needs the training set's RGB eigenvalues and eigenvectors: "
            "kerascnn.data.load computes them, or call Policy.fit(dataset), or pass "
            "kerascnn.data.ops.IMAGENET_PCA. Received: eigenvalues=None"
        )
    values = tf.constant(eigenvalues, tf.float32)
    vectors = tf.constant(eigenvectors, tf.float32)
    alpha = tf.random.stateless_normal(tf.shape(values), seed, stddev=stddev)
    shift = tf.linalg.matvec(vectors, alpha * values) * 255.0
    return image + shift


def _centered(linear, height, width):
    """3x3 output->input matrix applying the 2x2 `linear` map about the image center."""
    cy, cx = (height - 1.0) / 2.0, (width - 1.0) / 2.0
    offset = tf.stack([cx, cy]) - tf.linalg.matvec(linear, tf.stack([cx, cy]))
    top = tf.concat([linear, offset[:, None]], axis=1)
    return tf.concat([top, tf.constant([[0.0, 0.0, 1.0]])], axis=0)


def translation(seed, height, width, height_factor: float = 0.1, width_factor: float = 0.1):
    """Shifts by up to `factor` of the image size in each direction (keras RandomTranslation)."""
    shift = _uniform(seed, -1.0, 1.0, [2]) * tf.stack([width_factor * width,
                                                       height_factor * height])
    return tf.stack([[1.0, 0.0, -shift[0]], [0.0, 1.0, -shift[1]], [0.0, 0.0, 1.0]])


def rotation(seed, height, width, degrees: float = 15.0):
    """Rotates by an angle uniform in [-degrees, degrees] about the center."""
    angle = _uniform(seed, -degrees, degrees) * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    return _centered(tf.stack([[cos, -sin], [sin, cos]]), height, width)


def shear(seed, height, width, degrees: float = 10.0):
    """Shears horizontally and vertically by angles uniform in [-degrees, degrees]."""
    angles = _uniform(seed, -degrees, degrees, [2]) * (math.pi / 180.0)
    kx, ky = tf.tan(angles[0]), tf.tan(angles[1])
    return _centered(tf.stack([[1.0, kx], [ky, 1.0]]), height, width)


def stretch(seed, height, width, factor: float = 0.1):
    """Scales width and height independently by factors uniform in [1 - f, 1 + f]."""
    scales = _uniform(seed, 1.0 - factor, 1.0 + factor, [2])
    return _centered(tf.linalg.diag(1.0 / scales), height, width)


def apply_affine(image, matrix, fill_mode: str = "reflect", fill_value: float = 0.0):
    """Resamples `image` (bilinear) at `matrix @ [x, y, 1]` for every output pixel (x, y)."""
    matrix = matrix / matrix[2, 2]
    transform = tf.reshape(matrix, [9])[:8][None, :]
    shape = tf.shape(image)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform, output_shape=shape[:2],
        fill_value=tf.cast(fill_value, tf.float32), interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )[0]


def fit_to_size(image, size):
    """Center-crops a larger image to `size`; resizes (covering) anything else."""
    if tuple(image.shape[:2]) == tuple(size):
        return image
    shape = tf.shape(image)
    fits = (shape[0] >= size[0]) & (shape[1] >= size[1])
    channels = image.shape[-1]
    out = tf.cond(fits, lambda: center_crop(image, size), lambda: resize_cover(image, size))
    return tf.ensure_shape(out, (size[0], size[1], channels))


def fit_pca(dataset: tf.data.Dataset, max_images: int = 1000) -> dict:
    """Eigenvalues (descending) and eigenvectors (columns) of the pixel covariance, pixels/255.

    Args:
        dataset: Unbatched (image, label) pairs, images with values in [0, 255].
        max_images: The first `max_images` images are used (sources present them shuffled).

    Returns:
        {"eigenvalues": list, "eigenvectors": nested list}, for `pca_lighting`.
    """
    count, total, outer = 0, None, None
    for images, _ in dataset.take(max_images).batch(64):
        pixels = images.numpy().astype(np.float64).reshape(-1, images.shape[-1]) / 255.0
        total = pixels.sum(0) if total is None else total + pixels.sum(0)
        outer = pixels.T @ pixels if outer is None else outer + pixels.T @ pixels
        count += len(pixels)
    if not count:
        raise ValueError("pca_lighting cannot be fitted on an empty training split.")
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    return {"eigenvalues": np.clip(values[order], 0, None).tolist(),
            "eigenvectors": vectors[:, order].tolist()}


IMAGE_OPS = {
    "flip": flip,
    "pad_crop": pad_crop,
    "random_crop": random_crop,
    "random_resized_crop": random_resized_crop,
    "scale_jitter": scale_jitter,
    "cutout": cutout,
    "pca_lighting": pca_lighting,
}
AFFINE_OPS = {"translation": translation, "rotation": rotation, "shear": shear,
              "stretch": stretch}
