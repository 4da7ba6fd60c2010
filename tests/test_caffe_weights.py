"""BVLC Caffe weights in kerascnn, checked against OpenCV's independent Caffe importer.

Sources: BVLC/caffe `models/bvlc_alexnet/` and `models/bvlc_googlenet/` (readme.md,
deploy.prototxt, train_val.prototxt for GoogLeNet's auxiliary classifiers) and
`src/caffe/proto/caffe.proto` (the file format). Each test writes a `.caffemodel` of seeded random
blobs with the layer names and shapes of the deploy prototxt that `kerascnn.bvlc` writes, loads it
into kerascnn, and compares kerascnn's logits with those of `cv2.dnn.readNetFromCaffe` (OpenCV 4:
OpenCV 5 dropped its Caffe importer) on the same input, to 1e-4 of the logits' scale.
"""

import os

import cv2
import numpy as np
import pytest

import kerascnn
from kerascnn import bvlc, caffe

TOLERANCE = 1e-4


def uniform(rng, shape, std):
    # Uniform rather than normal draws: several times faster for AlexNet's 61 M weights.
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(std * 12 ** 0.5)


def random_blobs(source, input_shape=None, *, auxiliary=False, seed=0):
    """He-scaled weights and small biases, so activations stay O(100) as with real inputs."""
    rng = np.random.default_rng(seed)
    return {layer: [uniform(rng, weights, np.sqrt(2.0 / np.prod(weights[1:]))),
                    uniform(rng, bias, 0.1)]
            for layer, (weights, bias) in bvlc.blob_shapes(source, input_shape,
                                                           auxiliary=auxiliary).items()}


def write_network(directory, source, input_shape=None, *, auxiliary=False, legacy=False):
    """Writes the deploy prototxt and a random `.caffemodel`; returns their paths and blobs."""
    stem = os.path.join(directory, f"{source}{'_v1' if legacy else ''}")
    blobs = random_blobs(source, input_shape, auxiliary=auxiliary)
    caffe.write_caffemodel(f"{stem}.caffemodel", blobs, legacy=legacy)
    with open(f"{stem}.prototxt", "w") as file:
        file.write(bvlc.deploy_prototxt(source, input_shape, auxiliary=auxiliary))
    return f"{stem}.prototxt", f"{stem}.caffemodel", blobs


def rgb_images(size, count=2, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (count, size[0], size[1], 3), np.uint8)


def opencv_logits(prototxt, caffemodel, images, outputs):
    """OpenCV's forward pass on BGR images minus BVLC's mean pixel, prepared by OpenCV itself."""
    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    bgr = [image[..., ::-1] for image in images]
    net.setInput(cv2.dnn.blobFromImages(bgr, 1.0, (images.shape[2], images.shape[1]),
                                        mean=caffe.MEAN_BGR, swapRB=False, crop=False))
    return [np.asarray(out).reshape(len(images), -1) for out in net.forward(outputs)]


def relative_error(ours, reference):
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def kerascnn_logits(model, images):
    outputs = model(caffe.preprocess_input(images), training=False)
    return [np.asarray(out) for out in (outputs if isinstance(outputs, list) else [outputs])]


@pytest.fixture(scope="module")
def googlenet_128(tmp_path_factory):
    """GoogLeNet at 128x128 with the auxiliary classifiers (their maps are 2x2 there)."""
    return write_network(str(tmp_path_factory.mktemp("caffe")), "bvlc_googlenet", (128, 128, 3),
                         auxiliary=True)


def test_alexnet_matches_opencv(tmp_path):
    prototxt, path, _ = write_network(str(tmp_path), "bvlc_alexnet")
    model = kerascnn.build("alexnet", weights=path, lrn="caffe", classifier_activation=None)
    images = rgb_images((227, 227))
    (reference,) = opencv_logits(prototxt, path, images, ["fc8"])
    (ours,) = kerascnn_logits(model, images)
    assert relative_error(ours, reference) < TOLERANCE


def test_googlenet_matches_opencv(tmp_path):
    # The file holds the auxiliary classifiers, as BVLC's does; a model without them skips them.
    _, path, _ = write_network(str(tmp_path), "bvlc_googlenet", auxiliary=True)
    prototxt = str(tmp_path / "deploy.prototxt")
    with open(prototxt, "w") as file:
        file.write(bvlc.deploy_prototxt("bvlc_googlenet"))
    model = kerascnn.build("googlenet", weights=path, padding="caffe", classifier_activation=None)
    images = rgb_images((224, 224))
    (reference,) = opencv_logits(prototxt, path, images, ["loss3/classifier"])
    (ours,) = kerascnn_logits(model, images)
    assert relative_error(ours, reference) < TOLERANCE


def test_googlenet_auxiliary_classifiers_and_padding(googlenet_128):
    prototxt, path, _ = googlenet_128
    images = rgb_images((128, 128))
    names = ["loss3/classifier", "loss1/classifier", "loss2/classifier"]
    references = opencv_logits(prototxt, path, images, names)
    model = kerascnn.build("googlenet", weights=path, input_shape=(128, 128, 3), padding="caffe",
                           aux_logits=True, classifier_activation=None)
    for name, ours, reference in zip(names, kerascnn_logits(model, images), references):
        assert relative_error(ours, reference) < TOLERANCE, name
    # Keras's "same" pads conv1 2 before and 3 after, Caffe 3 and 3: the option is needed, and
    # the loader refuses a model built without it.
    same = kerascnn.build("googlenet", input_shape=(128, 128, 3), aux_logits=True,
                          classifier_activation=None)
    with pytest.raises(ValueError, match="padding='caffe'. Received: .*'conv1_conv'"):
        caffe.load_caffemodel(same, path, "bvlc_googlenet")
    same.set_weights(model.get_weights())
    assert relative_error(kerascnn_logits(same, images)[0], references[0]) > 1e-2


def test_legacy_v1_layers(tmp_path):
    """Older Caffe wrote V1 `layers` with 4-D legacy shapes: (1, 1, out, in) for InnerProduct."""
    input_shape = (99, 99, 3)  # pool5 is 2x2, so fc6 still sees Caffe's C, H, W flatten order
    prototxt, path, blobs = write_network(str(tmp_path), "bvlc_alexnet", input_shape,
                                          legacy=True)
    read = caffe.read_blobs(path)
    assert list(read) == list(blobs)
    assert [a.shape for a in read["fc6"]] == [(1, 1, 4096, 1024), (1, 1, 1, 4096)]
    for name, arrays in blobs.items():
        for ours, written in zip(read[name], arrays):
            np.testing.assert_array_equal(ours.reshape(written.shape), written)
    model = kerascnn.build("alexnet", weights=path, input_shape=input_shape, lrn="caffe",
                           classifier_activation=None)
    images = rgb_images(input_shape)
    (reference,) = opencv_logits(prototxt, path, images, ["fc8"])
    assert relative_error(kerascnn_logits(model, images)[0], reference) < TOLERANCE
    # The paper's LRN constants (k=2, alpha 1e-4 on the plain sum) compute something else.
    paper = kerascnn.build("alexnet", input_shape=input_shape, classifier_activation=None)
    with pytest.raises(ValueError, match="lrn='caffe'. Received: .*'conv1_lrn' has k=2.0"):
        caffe.load_caffemodel(paper, path, "bvlc_alexnet")
    paper.set_weights(model.get_weights())
    assert relative_error(kerascnn_logits(paper, images)[0], reference) > 1e-2


def test_blob_shapes_are_bvlcs():
    # Shapes implied by BVLC's deploy.prototxt files: conv2 is grouped (48 of 96 inputs per
    # tower); fc6 sees 256 x 6 x 6; inception_5b's 5x5 reduces to 48.
    alexnet = bvlc.blob_shapes("bvlc_alexnet")
    assert list(alexnet) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert alexnet["conv2"] == [(256, 48, 5, 5), (256,)]
    assert alexnet["conv5"] == [(256, 192, 3, 3), (256,)]
    assert alexnet["fc6"] == [(4096, 9216), (4096,)]
    googlenet = bvlc.blob_shapes("bvlc_googlenet", auxiliary=True)
    assert len(googlenet) == 3 + 9 * 6 + 1 + 2 * 3
    assert googlenet["conv1/7x7_s2"] == [(64, 3, 7, 7), (64,)]
    assert googlenet["inception_5b/5x5"] == [(128, 48, 5, 5), (128,)]
    assert googlenet["loss3/classifier"] == [(1000, 1024), (1000,)]
    assert googlenet["loss1/fc"] == [(1024, 2048), (1024,)]  # 128 x 4 x 4 after 5x5/3 pooling
    text = bvlc.deploy_prototxt("bvlc_googlenet")
    assert 'name: "pool5/7x7_s1"' in text and 'top: "inception_3a/output"' in text


def test_truncated_and_empty_files(googlenet_128, tmp_path):
    _, path, _ = googlenet_128
    with open(path, "rb") as file:
        content = file.read()
    truncated = tmp_path / "truncated.caffemodel"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt") as error:
        caffe.read_blobs(str(truncated))
    assert str(truncated) in str(error.value) and "\n" not in str(error.value)
    empty = tmp_path / "empty.caffemodel"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="holds no Caffe layer") as error:
        caffe.read_blobs(str(empty))
    assert str(empty) in str(error.value) and "\n" not in str(error.value)


def test_file_of_the_other_architecture(googlenet_128):
    _, path, _ = googlenet_128
    with pytest.raises(ValueError) as error:
        kerascnn.build("alexnet", weights=path, lrn="caffe")
    message = str(error.value)
    assert "'conv1'" in message and "(96, 3, 11, 11)" in message and "received none: the file has no such layer" in message
    assert "\n" not in message
    # The right layer names with other shapes: the first tensor that differs is named.
    googlenet = kerascnn.build("googlenet", padding="caffe", num_classes=10)
    with pytest.raises(ValueError) as error:
        caffe.load_caffemodel(googlenet, path, "bvlc_googlenet")
    message = str(error.value)
    assert "'loss3/classifier'" in message and "expected [(10, 1024), (10,)]" in message
    assert "received [(1000, 1024), (1000,)]" in message and "\n" not in message
