"""Bad data is refused by kerascnn.data.load (and so by train and fine_tune) before training, with
a ValueError naming the argument and the offending values or positions."""

import os

import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn import data as kdata

SHAPE = (8, 8, 1)


def _images(n=6, dtype=np.float32):
    return np.random.default_rng(0).uniform(0, 255, (n, 8, 8)).astype(dtype)


def _with(array, index, value):
    array = array.copy()
    array[index] = value
    return array


def _dataset(images, labels, batch=None):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    return dataset.batch(batch) if batch else dataset


LABELS = np.array([0, 1, 2, 0, 1, 2])

# (data, load keyword arguments, a regular expression the message must match)
ARRAY_CASES = [
    # NaN and infinite pixels: the examples holding them, by position.
    ((_with(_images(), (2, 3, 4), np.nan), LABELS), {},
     r"data images must be finite.*Received: NaN or infinite values in 1 of 6 examples, "
     r"at position 2$"),
    ((_with(_with(_images(), (1, 0, 0), np.inf), (4, 7, 7), -np.inf), LABELS), {},
     r"data images must be finite.*2 of 6 examples, at positions 1, 4$"),
    ((_with(_images(dtype=np.float64), (5, 0, 0), 1e300), LABELS), {},  # inf as float32
     r"data images must be finite.*at position 5$"),
    # Labels outside [0, num_classes): the values and where they are.
    ((_images(), np.array([0, 1, 12, 0, 1, 2])), {"num_classes": 3},
     r"data labels must be class indices in \[0, num_classes\)\. Received: num_classes=3 and "
     r"1 of 6 labels: 12 \(at position 2\)$"),
    ((_images(), np.array([0, -1, 2, 0, -3, 2])), {},
     r"data labels must be class indices >= 0\. Received: 2 of 6 labels: -1 \(at position 1\), "
     r"-3 \(at position 4\)$"),
    ((_images(), np.eye(4)[[0, 1, 3, 0, 1, 3]]), {"num_classes": 3},  # one-hot, 4 columns
     r"Received: num_classes=3 and 2 of 6 labels: 3 \(at position 2\), 3 \(at position 5\)"),
    ((_images(), np.array([0, 1, 10**9, 0, 1, 2])), {},
     r"data labels imply 1000000001 classes.*Received: a largest label of 1000000000"),
    ((_images(), np.array([0.0, 1.5, 2.0, 0.0, 1.0, 2.0])), {},
     r"data labels must be whole class indices\. Received: 1 of 6 labels: 1\.5 \(at position 1\)"),
    ((_images(), np.array([0.0, 1.0, np.nan, 0.0, 1.0, 2.0])), {},
     r"data labels must be finite.*1 of 6 labels, at position 2$"),
    ((_images(), np.array(list("abcabc"))), {}, r"data labels must be integer class indices.*"
     r"Received: labels of shape \(6,\) and dtype <U1"),
    # A label array of the wrong length.
    ((_images(), LABELS[:5]), {}, r"data images and labels differ in length\. "
     r"Received: 6 images and 5 labels"),
    ((_images(), 3), {}, r"data labels must be .*Received: labels of shape \(\)"),
    # Images of mixed sizes in a list.
    (([np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((9, 8)), np.zeros((8, 8, 3))], LABELS[:4]),
     {}, r"data images must all have the same shape.*Received: image 0 has shape \(8, 8\); "
     r"other shapes in 2 of 4 images: \(9, 8\) \(at position 2\), \(8, 8, 3\) \(at position 3\)"),
    (([[[0] * 8] * 8, [[0] * 8] * 7], LABELS[:2]), {},
     r"data images must all have the same shape.*\(7, 8\) \(at position 1\)"),
    ((_images().astype(np.complex64), LABELS), {},
     r"data images must be integers or floats\. Received: images of dtype complex64"),
    ((np.zeros((6, 0, 8)), LABELS), {}, r"Received: images of shape \(6, 0, 8, 1\)"),
    ((_images(), LABELS), {"num_classes": 10**7}, r"Received: num_classes=10000000"),
]


def test_bad_arrays_are_named_with_their_positions():
    for data, kwargs, message in ARRAY_CASES:
        with pytest.raises(ValueError, match=message):
            kdata.load(data, input_shape=SHAPE, **kwargs)


DATASET_CASES = [
    # The wrong structure, seen in the element_spec before anything is read.
    (tf.data.Dataset.from_tensor_slices({"image": _images(), "label": LABELS}), {},
     r"must yield \(image, label\) pairs \(map it first: .*Received: a dataset with "
     r"element_spec=\{'image'"),
    (tf.data.Dataset.from_tensor_slices((_images(), LABELS, LABELS)), {},
     r"must yield \(image, label\) pairs\. Received: .*element_spec=\(TensorSpec"),
    (tf.data.Dataset.from_tensor_slices(((_images(), _images()), LABELS)), {},
     r"pairs, each one dense tensor\. Received"),
    (tf.data.Dataset.from_tensor_slices((["a", "b"], [0, 1])), {},
     r"with decoded images \(`tf.io.decode_image`\), not encoded bytes\. Received"),
    (tf.data.Dataset.from_tensor_slices((_images(), LABELS.astype(str))), {},
     r"with integer class indices or one-hot float labels\. Received"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((6, 2, 4, 8, 8, 1)), LABELS)), {},
     r"with images of rank 2 or 3 \(or batches of rank 4\)\. Received"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((6, 4, 8, 8, 1)), LABELS)), {},
     r"with one label per image in each batch of images\. Received"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((6, 4, 8, 8, 1)), np.zeros((6, 3)))), {},
     r"with as many labels as images in each batch\. Received"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((6, 8, 8, 7)), LABELS)), {},
     r"with 1 to 4 image channels\. Received"),
    (tf.data.Dataset.from_tensor_slices((np.zeros((6, 8, 8, 7)), np.zeros((6, 5)))), {},
     r"with 1 to 4 image channels\. Received"),
    (tf.data.Dataset.from_tensor_slices((_images(), np.zeros((6, 0)))), {},
     r"with at least one label value per image\. Received"),
    (tf.data.Dataset.from_tensor_slices((_images(), LABELS)).repeat(), {},
     r"must be finite\. Received: a dataset of infinite cardinality"),
    # Bad values in the first elements (and in every label when the labels are counted).
    (_dataset(_with(_images(), (1, 2, 2), np.nan), LABELS), {"num_classes": 3},
     r"data images must be finite numbers\. Received: NaN or infinite values in the element at "
     r"position 1 of the dataset"),
    (_dataset(_images(), np.array([0, 1, 2, 5, 1, 2])), {"num_classes": 3},
     r"Received: num_classes=3 and 1 label: 5 \(at position 3\)$"),
    (_dataset(_images(), np.array([0, 1, 2, 0, -1, 2]), batch=4), {},
     r"data labels must be class indices >= 0\. Received: 1 label: -1 \(at position 4\)$"),
    (_dataset(_images(), np.array([0, 1, 2, 0, 1, 2])).filter(lambda x, y: y < 0), {},
     r"empty\. Received: a dataset with 0 elements"),
]


def test_bad_datasets_are_refused_from_spec_and_first_elements():
    for data, kwargs, message in DATASET_CASES:
        with pytest.raises(ValueError, match=message):
            kdata.load(data, input_shape=SHAPE, **kwargs)


def test_a_failing_dataset_is_a_value_error_naming_data():
    def fail(image, label):
        tf.debugging.assert_less(label, tf.constant(0, label.dtype),
                                 message="no label may be >= 0 here")
        return image, label

    dataset = _dataset(_images(), LABELS).map(fail)
    with pytest.raises(ValueError, match=r"data as a tf.data.Dataset failed .*Received: "
                                         r"InvalidArgumentError: .*no label may be >= 0"):
        kdata.load(dataset, input_shape=SHAPE, num_classes=3)


def test_good_data_still_loads():
    # Float [0, 1] images, one-hot labels, a batched dataset and a list of equal images.
    images = _images() / 255.0
    bundle = kdata.load((images, np.eye(3)[LABELS]), input_shape=SHAPE, validation_split=0)
    assert bundle.num_classes == 3 and bundle.train_examples == 6
    batched = kdata.load(_dataset(images, LABELS, batch=4), input_shape=SHAPE,
                         validation_split=0, num_classes=5)
    assert batched.num_classes == 5 and batched.train_examples == 6
    listed = kdata.load((list(_images()), list(LABELS)), input_shape=SHAPE, validation_split=0)
    assert listed.train_examples == 6


def test_train_and_fine_tune_refuse_bad_data_before_the_first_step(tmp_path):
    nan_images = _with(_images(), (3, 0, 0), np.nan)
    common = {"verbose": 0, "report": False}
    with pytest.raises(ValueError, match=r"data images must be finite.*at position 3$"):
        kerascnn.train("lenet5", (nan_images, LABELS), epochs=1, run_dir=str(tmp_path / "a"),
                       input_shape=(32, 32, 1), **common)
    with pytest.raises(ValueError, match=r"Received: num_classes=3 and 1 of 6 labels: 7"):
        kerascnn.train("lenet5", (_images(), np.array([0, 1, 2, 7, 1, 2])), epochs=1,
                       run_dir=str(tmp_path / "b"), input_shape=(32, 32, 1), num_classes=3,
                       **common)
    with pytest.raises(ValueError, match=r"labels must be class indices >= 0.*-1 \(at position"):
        kerascnn.fine_tune("lenet5", (_images(), np.array([0, 1, 2, -1, 1, 2])), head_epochs=1,
                           epochs=0, run_dir=str(tmp_path / "c"),
                           build_kwargs={"input_shape": (32, 32, 1)}, **common)
    for run in "abc":
        assert not os.path.exists(tmp_path / run / "history.csv")
