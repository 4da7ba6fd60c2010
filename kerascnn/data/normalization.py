"""Pixel normalization: one function shared by the input pipeline and exported serving functions.

The modes follow `keras.applications.imagenet_utils.preprocess_input`, so a network with
pretrained keras.applications (or torchvision-converted) weights sees the inputs it was trained on.
"""

from __future__ import annotations

import tensorflow as tf

from kerascnn.validation import check_choice

__all__ = ["NORMALIZATIONS", "normalize"]

NORMALIZATIONS = ("unit", "caffe", "torch", "tf")

# ImageNet statistics used by keras.applications' preprocess_input (RGB order).
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def normalize(images, mode: str = "unit") -> tf.Tensor:
    """Maps pixel values in [0, 255] to what a network expects, with TensorFlow ops only.

    Usable in `tf.data` pipelines and inside a SavedModel serving function. Channels last.

    Args:
        images: Tensor (any float or integer dtype) of shape (..., H, W, C) with values in [0, 255].
        mode: One of:
            "unit" (default): scale to [0, 1], for networks trained from scratch;
            "caffe": RGB -> BGR, subtract the ImageNet mean pixel, no scaling (VGG, ResNet v1);
            "torch": scale to [0, 1], subtract the ImageNet mean and divide by its std per channel;
            "tf": scale to [-1, 1] (Inception v3, MobileNet).
            "caffe" and "torch" need 3 channels, the others take any number.

    Returns:
        A float32 tensor of the same shape.

    Raises:
        ValueError: If `mode` is unknown, or "caffe"/"torch" get images without 3 channels.
    """
    check_choice(mode, "normalization", NORMALIZATIONS)
    x = tf.cast(images, tf.float32)
    if mode == "unit":
        return x / 255.0
    if mode == "tf":
        return x / 127.5 - 1.0
    channels = x.shape[-1]
    if channels != 3:
        raise ValueError(
            f"normalization={mode!r} uses per-channel ImageNet statistics and needs RGB images "
            f"(3 channels); use 'unit' or 'tf' for other inputs. Received: images with "
            f"{channels} channels and normalization={mode!r}"
        )
    if mode == "caffe":
        return tf.reverse(x, axis=[-1]) - tf.constant(_CAFFE_MEAN_BGR, tf.float32)
    return (x / 255.0 - tf.constant(_TORCH_MEAN, tf.float32)) / tf.constant(_TORCH_STD, tf.float32)
