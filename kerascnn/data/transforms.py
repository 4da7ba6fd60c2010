"""Deterministic image transforms shared by the loaders, augmentation policies and evaluation."""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["convert_channels", "resize_cover", "center_crop", "prepared_size", "to_uint8"]


def convert_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """Converts an (..., H, W, C) float image to `channels` channels (1 <-> 3, alpha dropped).

    Alpha is dropped rather than composited, as `keras.utils.image_dataset_from_directory` does.
    Grayscale uses ITU-R 601 luma weights (`tf.image.rgb_to_grayscale`).

    Raises:
        ValueError: When no sensible conversion exists (for example 3 -> 2 channels).
    """
    source = image.shape[-1]
    if source == channels:
        return image
    if source in (2, 4):  # Gray + alpha or RGB + alpha.
        image = image[..., : source - 1]
        source -= 1
        if source == channels:
            return image
    if source == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if source == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(
        f"Cannot convert images with {image.shape[-1]} channels to the model's {channels}. "
        f"Received: input_shape with {channels} channels for images of shape {tuple(image.shape)}"
    )


def prepared_size(input_shape: tuple, scale: float = 1.0) -> tuple[int, int]:
    """(height, width) of the stored image from which crops of `input_shape` are taken."""
    height, width = input_shape[:2]
    if scale == 1.0:
        return int(height), int(width)
    return int(math.floor(height * scale + 0.5)), int(math.floor(width * scale + 0.5))


def resize_cover(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Resizes a single (H, W, C) float image to cover `size`, keeping its aspect, and center-crops.

    Krizhevsky et al. (2012, section 2): "rescaled the image such that the shorter side was of
    length 256, and then cropped out the central 256x256 patch". Images that already have the
    target aspect ratio are simply resized (no pixels lost).
    """
    target_h, target_w = size
    static = image.shape[:2]
    if static[0] == target_h and static[1] == target_w:
        return image
    shape = tf.shape(image)
    height = tf.cast(shape[0], tf.float32)
    width = tf.cast(shape[1], tf.float32)
    scale = tf.maximum(target_h / height, target_w / width)
    new_h = tf.maximum(target_h, tf.cast(tf.math.round(height * scale), tf.int32))
    new_w = tf.maximum(target_w, tf.cast(tf.math.round(width * scale), tf.int32))
    image = tf.image.resize(image, tf.stack([new_h, new_w]), method="bilinear", antialias=True)
    return center_crop(image, size)


def center_crop(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Central (height, width) crop of an (H, W, C) image or an (B, H, W, C) batch.

    Raises:
        tf.errors.InvalidArgumentError: When the images are smaller than `size`.
    """
    target_h, target_w = size
    shape = tf.shape(images)
    height, width = shape[-3], shape[-2]
    top = (height - target_h) // 2
    left = (width - target_w) // 2
    if images.shape.rank == 3:
        return tf.ensure_shape(
            images[top : top + target_h, left : left + target_w, :], (target_h, target_w, None)
        )
    return images[:, top : top + target_h, left : left + target_w, :]


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    """Rounds a [0, 255] float image to uint8 (a quarter of the memory in caches)."""
    return tf.cast(tf.clip_by_value(tf.math.round(image), 0.0, 255.0), tf.uint8)
