"""kerascnn.data.load: digits, numpy arrays, tf.data datasets, tensorflow-datasets and folders."""

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kerascnn
from kerascnn import data as kdata


def _first(dataset):
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


def _all_labels(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_digits_shapes_ranges_and_class_names():
    bundle = kdata.load("digits", input_shape=(32, 32, 1), batch_size=64)
    # scikit-learn's load_digits: 1,797 images of 8x8 pixels, 10 classes (its documentation).
    assert bundle.train_examples + bundle.validation_examples == 1797
    assert bundle.validation_examples == 180  # round(0.1 * 1797), shared out per class.
    assert bundle.class_names == [str(i) for i in range(10)] and bundle.num_classes == 10
    assert bundle.input_shape == (32, 32, 1) and kerascnn.data.load is kdata.load
    images, labels = _first(bundle.train)
    assert images.shape == (64, 32, 32, 1) and images.dtype == np.float32
    assert labels.shape == (64,) and labels.dtype == np.int32
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.9
    assert len(_all_labels(bundle.validation)) == bundle.validation_examples
    # Every class is in the held-out split (stratified).
    assert set(_all_labels(bundle.validation)) == set(range(10))


def test_validation_split_is_deterministic_seeded_and_disjoint():
    x = np.arange(200, dtype=np.uint8).reshape(200, 1, 1).repeat(4, 1).repeat(4, 2)
    y = np.arange(200) % 4

    def ids(bundle, split):
        return sorted(int(round(v)) for v in
                      np.concatenate([i.numpy()[:, 0, 0, 0] * 255 for i, _ in split]))

    one = kdata.load((x, y), input_shape=(4, 4, 1), validation_split=0.25, seed=3)
    two = kdata.load((x, y), input_shape=(4, 4, 1), validation_split=0.25, seed=3)
    other = kdata.load((x, y), input_shape=(4, 4, 1), validation_split=0.25, seed=4)
    assert ids(one, one.validation) == ids(two, two.validation)
    assert ids(one, one.validation) != ids(other, other.validation)
    train, validation = ids(one, one.train), ids(one, one.validation)
    assert len(validation) == 50 and not set(train) & set(validation)
    assert sorted(train + validation) == list(range(200))


def test_arrays_are_converted_to_the_model_channels_and_size():
    x = np.random.default_rng(0).random((12, 28, 28)).astype(np.float32)  # floats in [0, 1]
    y = keras.utils.to_categorical(np.arange(12) % 3, 3)  # one-hot labels
    bundle = kdata.load((x, y), input_shape=(32, 32, 3), batch_size=4, validation_split=0,
                        num_classes=5, shuffle=False)
    assert bundle.validation is None and bundle.validation_examples == 0
    assert bundle.class_names == ["0", "1", "2", "3", "4"]
    images, labels = _first(bundle.train)
    assert images.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # Gray copied to RGB.
    assert images.max() <= 1.0 and images.max() > 0.8  # [0, 1] floats were not re-divided.
    assert set(labels) <= {0, 1, 2}


def test_tf_data_dataset_source():
    images = tf.random.stateless_uniform((10, 8, 8, 3), (1, 2), maxval=255.0)
    labels = tf.constant(np.arange(10) % 2)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(3)
    bundle = kdata.load(dataset, input_shape=(8, 8, 1), batch_size=5, validation_split=0.2)
    assert (bundle.train_examples, bundle.validation_examples) == (8, 2)
    assert bundle.class_names == ["0", "1"]
    batch, _ = _first(bundle.train)
    assert batch.shape == (5, 8, 8, 1) and 0.0 <= batch.min() and batch.max() <= 1.0


def test_normalize_matches_keras_applications():
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 5, 5, 3)).astype(np.float32)
    preprocess = keras.applications.imagenet_utils.preprocess_input
    for mode in ("caffe", "torch", "tf"):
        # The reference is keras.applications' own preprocess_input for the same mode.
        np.testing.assert_allclose(kdata.normalize(pixels, mode).numpy(),
                                   preprocess(pixels.copy(), mode=mode), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(kdata.normalize(pixels).numpy(), pixels / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Received: normalization='bgr'"):
        kdata.normalize(pixels, "bgr")
    with pytest.raises(ValueError, match="needs 3-channel.*Received: input_shape"):
        kdata.load("digits", input_shape=(8, 8, 1), normalization="caffe")


INVALID = [
    ({"data": "digits", "input_shape": (8, 8)}, r"Received: input_shape=\(8, 8\)"),
    ({"data": "digits", "input_shape": (8, 8, 1), "batch_size": 0}, "Received: batch_size=0"),
    ({"data": "digits", "input_shape": (8, 8, 1), "validation_split": 1.0},
     "Received: validation_split=1.0"),
    ({"data": "digits", "input_shape": (8, 8, 1), "augmentation": "cifar11"},
     "Received: augmentation='cifar11'"),
    ({"data": "digits", "input_shape": (8, 8, 1), "split": "train"},
     "Received: split='train'"),
    ({"data": 42, "input_shape": (8, 8, 1)}, "Received: data of type int"),
    ({"data": (np.zeros((3, 4, 4)), np.zeros(2)), "input_shape": (4, 4, 1)},
     "3 images and 2 labels"),
    ({"data": (np.zeros((3, 4, 4)), np.zeros((3, 2, 2))), "input_shape": (4, 4, 1)},
     "labels of shape"),
    ({"data": (np.zeros((3, 4, 4)), np.arange(3)), "input_shape": (4, 4, 1),
      "num_classes": 2}, "Received: num_classes=2"),
    ({"data": "./no/such/folder", "input_shape": (4, 4, 1)}, "does not exist"),
]


def test_invalid_arguments_name_the_argument():
    # One test for all cases: each case is cheap, the per-test session teardown is not.
    for kwargs, message in INVALID:
        with pytest.raises(ValueError, match=message):
            kdata.load(**kwargs)


def test_tfds_through_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=20):
        mnist = kdata.load("mnist", input_shape=(32, 32, 1), batch_size=6, verbose=0)
        cifar = kdata.load("cifar10", input_shape=(32, 32, 3), batch_size=6,
                           split=("train[:50%]", "test"), augmentation="cifar")
        fashion = kdata.load("fashion_mnist", input_shape=(28, 28, 1), split=("test", None))
        mnist_batch, cifar_batch = _first(mnist.train), _first(cifar.validation)
    assert mnist.class_names == [str(i) for i in range(10)]
    assert (mnist.train_examples, mnist.validation_examples) == (18, 2)
    assert mnist_batch[0].shape == (6, 32, 32, 1) and mnist_batch[1].dtype == np.int32
    assert cifar.num_classes == 10 and cifar.validation_examples == 20
    assert cifar_batch[0].shape == (6, 32, 32, 3) and cifar_batch[0].max() <= 1.0
    # Fashion-MNIST's label names in order (Xiao et al. 2017, as tfds's ClassLabel lists them).
    assert fashion.class_names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert fashion.validation is None


def test_tfds_missing_data_says_how_to_prepare(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match=r"not prepared.*tfds build cifar10 --data_dir="):
        kdata.load("cifar10", input_shape=(32, 32, 3), data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"manual download.*ILSVRC2012_img_train\.tar.*"
                                         r"--manual_dir="):
        kdata.load("imagenet2012", input_shape=(224, 224, 3), data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"Did you mean: cifar10.*Received: data='cifar_10'"):
        kdata.load("cifar_10", input_shape=(32, 32, 3), data_dir=str(tmp_path))


def _write_odd_folder(root):
    rng = np.random.default_rng(0)
    for name in ("cat", "dog", "empty"):
        os.makedirs(root / name)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(
            root / "cat" / f"{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (25, 25), dtype=np.uint8)).save(
            root / "dog" / f"{i}.png")
    rgb = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(root / "cat" / "cmyk.jpg")
    Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "RGBA").save(root / "dog" / "rgba.png")
    Image.fromarray(np.full((24, 24), 25700, np.uint16)).save(root / "dog" / "gray16.png")
    Image.fromarray(rgb).convert("P").save(root / "dog" / "palette.png")
    Image.fromarray(rgb).save(root / "dog" / "image.bmp")
    (root / "cat" / "zero.jpg").write_bytes(b"")
    (root / "cat" / "notes.txt").write_text("not an image")
    jpeg = (root / "cat" / "0.jpg").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "dog" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 8)
    (root / "dog" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # Hidden files are ignored.


def test_folder_with_broken_and_odd_files(tmp_path):
    _write_odd_folder(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = kdata.load(str(tmp_path), input_shape=(24, 24, 3), batch_size=4,
                            validation_split=0.0, verbose=0)
    skipped = [w for w in caught if "unusable" in str(w.message)]
    assert len(skipped) == 1
    message = str(skipped[0].message)
    for bad in ("truncated.jpg", "zero.jpg", "notes.txt", "corrupt.png", "empty"):
        assert bad in message
    for good in ("cmyk.jpg", "rgba.png", "gray16.png", "palette.png", "image.bmp", "DS_Store"):
        assert good not in message
    assert bundle.class_names == ["cat", "dog"] and bundle.train_examples == 4 + 7
    for _ in range(2):  # Two epochs through every usable file, with no error.
        labels = _all_labels(bundle.train)
        assert sorted(labels) == [0] * 4 + [1] * 7
    images, _ = _first(bundle.train)
    assert images.shape == (4, 24, 24, 3) and images.min() >= 0 and images.max() <= 1


def test_folder_scan_converts_16_bit_and_keeps_standard_files(tmp_path):
    _write_odd_folder(tmp_path)
    scan = kdata.scan_folder(str(tmp_path), verbose=0)
    converted = {os.path.basename(p): b for p, b in zip(scan.paths, scan.blobs) if b}
    assert set(converted) == {"cmyk.jpg", "gray16.png", "palette.png", "image.bmp"}
    import io

    gray = np.asarray(Image.open(io.BytesIO(converted["gray16.png"])))
    # 16-bit to 8-bit is v / 257 (65535 -> 255): 25700 -> 100.
    assert gray.dtype == np.uint8 and np.all(gray == 100)
    assert scan.empty_classes == ["empty"]


def test_folder_errors_and_split_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "zero.png").write_bytes(b"")
    (tmp_path / "b" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="no usable images.*Received: data="):
        kdata.load(str(tmp_path), input_shape=(8, 8, 3), verbose=0)
    with pytest.raises(ValueError, match="no sub-folders"):
        kdata.load(str(tmp_path / "a"), input_shape=(8, 8, 3), verbose=0)
    root = tmp_path / "split"
    for part, count in (("train", 4), ("val", 2)):
        for name in ("x", "y"):
            os.makedirs(root / part / name)
            for i in range(count):
                Image.new("L", (10, 12), color=40 * i).save(root / part / name / f"{i}.png")
    bundle = kdata.load(str(root), input_shape=(8, 8, 1), verbose=0)
    assert bundle.class_names == ["x", "y"]
    assert (bundle.train_examples, bundle.validation_examples) == (8, 4)
    explicit = kdata.load(str(root), input_shape=(8, 8, 1), split=("val", None), verbose=0)
    assert explicit.train_examples == 4 and explicit.validation is None

