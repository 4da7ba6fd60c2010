"""Weights: keras.applications' files load into kerascnn's models, which then compute the same
outputs; "imagenet" finds the very file keras.applications uses in the Keras cache and checks it."""

import dataclasses
import hashlib
import inspect

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import kerascnn
from weight_values import randomize_weights
from kerascnn import weights as weight_sources
from kerascnn.registry import get_entry


def application(name, size, **kwargs):
    kwargs.setdefault("classifier_activation", None)
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), **kwargs)
    return randomize_weights(model)


def assert_same_function(model, reference, size):
    x = np.random.default_rng(1).uniform(0, 1, (2, size, size, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    actual = keras.ops.convert_to_numpy(model(x, training=False))
    assert actual.shape == expected.shape
    assert np.std(expected) > 1e-2  # outputs that say something about the weights
    # The criterion: max |difference| <= 1e-4 on random inputs.
    assert np.max(np.abs(actual - expected)) <= 1e-4


def legacy_file(model, path):
    """Writes `model`'s weights as keras.applications publishes them: a legacy HDF5 file."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return str(path)


def test_published_sources_are_keras_applications():
    from keras.src.applications import resnet

    # keras/src/applications/resnet.py: WEIGHTS_HASHES[name] = (with top, without top).
    for name in ("resnet50", "resnet101", "resnet152", "resnet50v2", "resnet101v2", "resnet152v2"):
        top, notop = weight_sources.SOURCES[name]["imagenet"]
        assert (top.file_hash, notop.file_hash) == resnet.WEIGHTS_HASHES[name]
        assert resnet.BASE_WEIGHTS_PATH + top.file_name == top.url
    # The other modules name their files and hashes inline.
    for name in ("vgg16", "vgg19", "densenet121", "densenet169", "densenet201",
                 "inception_resnet_v2"):
        source_text = inspect.getsource(inspect.getmodule(
            getattr(keras.applications, weight_sources.APPLICATIONS[name])))
        for file in weight_sources.SOURCES[name]["imagenet"]:
            assert file.file_hash in source_text, name
            assert file.file_name.replace("_notop.h5", "") in source_text.replace('"\n', "")
    mobilenet_text = inspect.getsource(inspect.getmodule(keras.applications.MobileNet))
    assert "mobilenet_%s_%d_tf_no_top.h5" in mobilenet_text
    assert len(weight_sources.SOURCES["mobilenet"]["imagenet"]) == 4 * 4 * 2
    # Every source belongs to a registered model.
    assert set(weight_sources.SOURCES) <= set(kerascnn.list_models())
    assert weight_sources.preprocessing("resnet50") == "caffe"
    assert weight_sources.preprocessing("resnet50v2") == "tf"


def test_resnet50_takes_the_keras_applications_file(tmp_path):
    reference = application("ResNet50", 32)
    path = tmp_path / "resnet50.weights.h5"
    reference.save_weights(path)
    model = kerascnn.build("resnet50", weights=str(path), input_shape=(32, 32, 3),
                           classifier_activation=None)
    assert_same_function(model, reference, 32)
    # The paper-faithful convolutions have no bias: keras.applications' biases were folded into
    # the moving means of the batch norms that follow.
    assert not model.get_layer("conv1_conv").use_bias
    assert np.any(keras.ops.convert_to_numpy(reference.get_layer("conv1_conv").bias))


def test_imagenet_uses_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    reference = application("ResNet50V2", 32, include_top=False, pooling="avg")
    top, notop = weight_sources.SOURCES["resnet50v2"]["imagenet"]
    # Pre-seed the cache with a legacy .h5 file, the format keras.applications publishes, under
    # the name it downloads to; the published hash belongs to the real file, so record this one's.
    cached = tmp_path / "keras" / "models" / notop.file_name
    cached.parent.mkdir(parents=True)
    legacy_file(reference, cached)
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    seeded = dataclasses.replace(notop, file_hash=digest)
    monkeypatch.setitem(weight_sources.SOURCES, "resnet50v2", {"imagenet": (top, seeded)})
    model = kerascnn.build("resnet50v2", weights="imagenet", include_top=False, pooling="avg",
                           input_shape=(32, 32, 3))
    assert_same_function(model, reference, 32)


def test_imagenet_file_with_another_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    top, notop = weight_sources.SOURCES["vgg16"]["imagenet"]
    cached = tmp_path / "keras" / "models" / notop.file_name
    cached.parent.mkdir(parents=True)
    legacy_file(application("VGG16", 32, include_top=False), cached)
    # keras.utils.get_file fetches a cached file with the wrong hash again and checks the fresh
    # copy: here the "download" is a local file, with the same wrong contents.
    origin = tmp_path / "download" / notop.file_name
    origin.parent.mkdir()
    origin.write_bytes(cached.read_bytes())
    local = dataclasses.replace(notop, url=origin.as_uri())
    monkeypatch.setitem(weight_sources.SOURCES, "vgg16", {"imagenet": (top, local)})
    with pytest.raises(ValueError, match=f"hash does not match.*{notop.file_hash}"):
        kerascnn.build("vgg16", weights="imagenet", include_top=False, input_shape=(32, 32, 3))


def test_imagenet_refuses_what_the_files_cannot_serve():
    with pytest.raises(ValueError, match=r"1000-class classifier.*Received: num_classes=10"):
        kerascnn.build("mobilenet", weights="imagenet", num_classes=10, input_shape=(32, 32, 3))
    # keras.applications.MobileNet: "alpha can be one of 0.25, 0.50, 0.75 or 1.0 only".
    with pytest.raises(ValueError, match="published only"):
        kerascnn.build("mobilenet", weights="imagenet", alpha=0.3, include_top=False,
                       input_shape=(32, 32, 3))


def test_own_files_round_trip(tmp_path):
    model = randomize_weights(kerascnn.build("resnet20", input_shape=(16, 16, 3)))
    path = tmp_path / "resnet20.weights.h5"
    model.save_weights(path)
    assert_same_function(kerascnn.build("resnet20", weights=str(path), input_shape=(16, 16, 3)),
                         model, 16)
    # A file for another architecture is refused.
    with pytest.raises(ValueError, match=r"(?s)does not fit 'resnet20'.*Received: weights="):
        kerascnn.build("resnet20", weights=str(path), shortcut="B", input_shape=(16, 16, 3))


def test_mobilenet_takes_the_keras_applications_files(tmp_path):
    # Its classifier is a 1x1 convolution named `conv_preds` in keras.applications, so the layers
    # pair in order rather than by name. (DenseNet and Inception-ResNet-v2 take their files the
    # same way; tests/test_densenet.py and tests/test_inception_v4.py check their variables
    # against keras.applications directly.)
    reference = application("MobileNet", 32)
    path = tmp_path / "mobilenet.weights.h5"
    reference.save_weights(path)
    model = kerascnn.build("mobilenet", weights=str(path), input_shape=(32, 32, 3),
                           classifier_activation=None)
    assert_same_function(model, reference, 32)
    # A legacy file with the classifier also gives the features alone.
    legacy = legacy_file(reference, tmp_path / "mobilenet.h5")
    features = kerascnn.build("mobilenet", weights=legacy, input_shape=(32, 32, 3),
                              include_top=False)
    backbone = keras.Model(reference.input, reference.get_layer("conv_pw_13_relu").output)
    assert_same_function(features, backbone, 32)


def test_bias_and_epsilon_fold_exactly():
    from kerascnn.conversion import transfer

    def tiny(use_bias, epsilon, name):
        inputs = keras.Input((5, 5, 3))
        x = keras.layers.Conv2D(4, 3, use_bias=use_bias, name="conv")(inputs)
        x = keras.layers.BatchNormalization(epsilon=epsilon, name="bn")(x)
        return keras.Model(inputs, x, name=name)

    # keras.applications' layout (bias, epsilon 1e-3) into a bias-free one (epsilon 1.001e-5).
    source = randomize_weights(tiny(True, 1e-3, "source"))
    target = tiny(False, 1.001e-5, "target")
    transfer(source, target)
    assert_same_function(target, source, 5)
    # BN(Wx + b) with moving mean m is BN(Wx) with moving mean m - b.
    np.testing.assert_allclose(
        target.get_layer("bn").moving_mean.numpy(),
        source.get_layer("bn").moving_mean.numpy() - source.get_layer("conv").bias.numpy(),
        rtol=1e-6)


def test_tags_come_from_the_source_table(capsys):
    from kerascnn import cli, weight_sources as table

    # Declared once, in the table; the registry derives each model's tags from it.
    assert get_entry("resnet50").weights == (
        "imagenet", "torchvision", "torchvision_v2", "timm/resnet50.a1_in1k", "timm")
    assert get_entry("lenet5").weights == ()
    pretrained = kerascnn.list_models(pretrained=True)
    assert {"googlenet", "alexnet", "googlenet_torchvision", "vgg11_bn"} <= set(pretrained)
    assert "lenet5" not in pretrained and "vgg11_lrn" not in pretrained
    assert kerascnn.list_models("vgg1*", pretrained=True) == [
        "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
    # A tag's build options are applied, and a conflicting one is refused before any download.
    assert table.build_options("resnet50", "torchvision") == {"stride_at": "3x3"}
    with pytest.raises(ValueError,
                       match=r"trained with stride_at='3x3'. Received: stride_at='1x1'"):
        kerascnn.build("resnet50", weights="torchvision", stride_at="1x1")
    assert cli.main(["list", "--pretrained", "resnet18"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # torchvision/models/resnet.py, ResNet18_Weights.IMAGENET1K_V1: acc@1 69.758, 44.661 MB.
    assert lines[1].split() == ["resnet18", "torchvision", "69.8%", "torchvision", "44.7", "MB",
                                "BSD-3-Clause"]


def test_bvlc_tag_checks_sha1_and_hands_the_file_to_the_caffe_reader(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (source,) = weight_sources.SOURCES["googlenet"]["bvlc"]
    assert (source.hash_algorithm, source.file_name) == ("sha1", "bvlc_googlenet.caffemodel")
    cached = tmp_path / "keras" / "models" / source.file_name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a caffemodel")
    # BVLC/caffe models/bvlc_googlenet/readme.md publishes the real file's sha1.
    with pytest.raises(ValueError, match="hash does not match.*sha1.*405fc5acd08a3bb12de8"):
        kerascnn.build("googlenet", weights="bvlc")
    digest = hashlib.sha1(cached.read_bytes()).hexdigest()
    seeded = dataclasses.replace(source, file_hash=digest)
    monkeypatch.setitem(weight_sources.SOURCES, "googlenet", {"bvlc": (seeded,)})
    # The hash fits now; the Caffe reader is what refuses the contents.
    with pytest.raises(ValueError, match="does not fit 'googlenet'.*bvlc_googlenet.caffemodel"):
        kerascnn.build("googlenet", weights="bvlc")
