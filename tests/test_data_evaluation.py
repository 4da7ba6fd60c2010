"""Center-crop and 10-crop evaluation with top-1 / top-5 accuracy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn import data as kdata


def test_ten_crops_are_corners_center_and_their_flips():
    images = tf.reshape(tf.range(2 * 6 * 7 * 1, dtype=tf.float32), (2, 6, 7, 1))
    crops = kdata.ten_crops(images, (4, 4)).numpy()
    assert crops.shape == (10, 2, 4, 4, 1)
    source = images.numpy()
    # Krizhevsky et al. 2012, 4.1: four corner patches, the center patch, and their reflections.
    windows = [source[:, :4, :4], source[:, :4, 3:], source[:, 2:, :4], source[:, 2:, 3:],
               source[:, 1:5, 1:5]]
    for index, window in enumerate(windows):
        np.testing.assert_array_equal(crops[index], window)
        np.testing.assert_array_equal(crops[index + 5], window[:, :, ::-1])


def _tiny_model(logits=False):
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(6, activation=None if logits else "softmax",
                                 name="predictions")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=(16, 6)), rng.normal(size=(6,))])
    return model


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


def test_ten_crop_average_of_softmax_and_top_k():
    rng = np.random.default_rng(1)
    images = rng.random((12, 6, 6, 1)).astype(np.float32)
    labels = rng.integers(0, 6, 12).astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(5)
    model = _tiny_model()
    weights, bias = model.get_weights()
    # The oracle slices the crops in numpy and averages softmax outputs over them.
    views = []
    for y, x in ((0, 0), (0, 2), (2, 0), (2, 2), (1, 1)):
        views.append(images[:, y:y + 4, x:x + 4])
    views += [v[:, :, ::-1] for v in views]
    probs = np.mean([_softmax(v.reshape(12, 16) @ weights + bias) for v in views], axis=0)
    ranks = np.argsort(-probs, axis=1)
    expected_top1 = np.mean(ranks[:, 0] == labels)
    expected_top5 = np.mean([label in row[:5] for label, row in zip(labels, ranks)])
    result = kdata.evaluate_crops(model, dataset, crops="ten", verbose=0)
    assert result["examples"] == 12 and result["crops"] == "ten"
    assert result["top1"] == pytest.approx(expected_top1)
    assert result["top5"] == pytest.approx(expected_top5)
    expected_loss = -np.mean(np.log(probs[np.arange(12), labels]))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-4)
    # A logits model gives the same ranking once its outputs go through softmax.
    logits_model = _tiny_model(logits=True)
    same = kdata.evaluate_crops(logits_model, dataset, crops="ten", verbose=0)
    assert same["top1"] == pytest.approx(expected_top1)
    assert same["loss"] == pytest.approx(expected_loss, rel=1e-4)


def test_center_crop_evaluation_matches_keras_evaluate():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 255, (30, 6, 6), dtype=np.uint8)
    bundle = kdata.load((x, np.arange(30) % 6), input_shape=(4, 4, 1), batch_size=8,
                        validation_split=0.5, augmentation=[("resize", {"scale": 1.5}), "flip"])
    assert next(iter(bundle.validation_uncropped))[0].shape[1:3] == (6, 6)
    model = _tiny_model()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # keras's own evaluate on the center-cropped validation split is the reference.
    loss, accuracy = model.evaluate(bundle.validation, verbose=0)
    result = kdata.evaluate_crops(model, bundle, crops="center", verbose=0)
    assert result["examples"] == 15
    assert result["top1"] == pytest.approx(accuracy)
    assert result["loss"] == pytest.approx(loss, rel=1e-4)
    with pytest.raises(ValueError, match="Received: crops='five'"):
        kdata.evaluate_crops(model, bundle, crops="five")
    with pytest.raises(ValueError, match="smaller than"):
        kdata.evaluate_crops(model, bundle, crop_size=(8, 8))
