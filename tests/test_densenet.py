"""DenseNet (Huang et al. 2017): the published parameter and MAC counts, Table 1's structure,
keras.applications weight compatibility, the CIFAR forms, and a training step."""

import keras
import numpy as np
import pytest

import kerascnn
from weight_values import randomize_weights
from kerascnn import analysis

IMAGENET = ("densenet121", "densenet161", "densenet169", "densenet201")


def _conv_and_fc_layers(summary) -> int:
    # The depth L in a DenseNet's name counts its convolutions and its fully connected layer.
    return sum(row.type in ("Conv2D", "Dense") for row in summary.rows)


@pytest.fixture(scope="module")
def densenet121():
    return kerascnn.build("densenet121")


def test_imagenet_figures(densenet121):
    models = {name: kerascnn.build(name) for name in IMAGENET[1:]} | {"densenet121": densenet121}
    summaries = {name: kerascnn.summary(m, print_fn=None) for name, m in models.items()}
    # torchvision.models DenseNet*_Weights meta: "num_params", and "_ops" (GFLOPS, counted as
    # multiply-accumulates at 224x224).
    torchvision = {
        "densenet121": (7_978_856, 2.834),
        "densenet161": (28_681_000, 7.728),
        "densenet169": (14_149_480, 3.36),
        "densenet201": (20_013_928, 4.291),
    }
    for name, (params, gmacs) in torchvision.items():
        assert summaries[name].trainable_params == params, name
        assert summaries[name].total_macs / 1e9 == pytest.approx(gmacs, abs=5e-4), name
    # keras.applications DenseNet121/169/201(weights=None).count_params(): trainable plus the
    # batch norms' moving statistics.
    keras_totals = {"densenet121": 8_062_504, "densenet169": 14_307_880,
                    "densenet201": 20_242_984}
    for name, total in keras_totals.items():
        assert summaries[name].total_params == total, name
    # Features before the classifier: torchvision's classifier in_features.
    features = {"densenet121": 1024, "densenet161": 2208, "densenet169": 1664, "densenet201": 1920}
    for name, width in features.items():
        assert summaries[name]["head_avg_pool"].output_shape == (None, width), name
        # The name is the depth: 121 = 1 + 2 * (6 + 12 + 24 + 16) + 3 + 1 (Table 1).
        assert _conv_and_fc_layers(summaries[name]) == int(name[len("densenet"):]), name
    table = summaries["densenet121"]
    # Table 1, "Output Size": 112x112 after the convolution, 56, 28, 14, 7 in the dense blocks.
    assert table["conv1_conv"].output_shape[1:3] == (112, 112)
    for stage, size in zip((2, 3, 4, 5), (56, 28, 14, 7)):
        assert table[f"conv{stage}_block1_concat"].output_shape[1:3] == (size, size)
    # torchvision's DenseNet weights meta: "min_size": (29, 29). (The registry computes this on
    # a headless probe; the propagation is the same on the full model.)
    assert analysis.minimum_spatial_size(models["densenet121"]) == (29, 29)


def _outputs(model, feature_layer, x):
    # The pooled features as well as the softmax: a wrong weight shows in the features at once.
    features = keras.Model(model.input, model.get_layer(feature_layer).output)
    return np.asarray(features(x, training=False)), np.asarray(model(x, training=False))


def test_densenet121_takes_keras_applications_weights(densenet121, tmp_path):
    reference = keras.applications.DenseNet121(weights=None)
    model = densenet121
    assert [tuple(v.shape) for v in model.weights] == [tuple(v.shape) for v in reference.weights]
    # Same layer names in the same order, except the final batch norm, named after its group.
    theirs = [layer.name for layer in reference.layers if layer.weights]
    ours = [layer.name for layer in model.layers if layer.weights]
    assert ours == [{"bn": "conv5_bn"}.get(n, n) for n in theirs]
    randomize_weights(reference)
    model.set_weights(reference.get_weights())
    # One image at 224x224, the size the shared full-size model was built for.
    x = np.random.default_rng(1).uniform(size=(1, 224, 224, 3)).astype("float32")
    expected = _outputs(reference, "avg_pool", x)
    assert np.std(expected[0]) > 1e-2  # features that depend on the weights
    for ours, theirs in zip(_outputs(model, "head_avg_pool", x), expected):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    # A weights file keras.applications writes loads unchanged.
    path = tmp_path / "densenet121.weights.h5"
    reference.save_weights(path)
    randomize_weights(model, seed=2)
    model.load_weights(path)
    for ours, theirs in zip(_outputs(model, "head_avg_pool", x), expected):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_cifar_forms_match_table2():
    # Table 2 / the authors' README: DenseNet (L=40, k=12) 1.0M parameters, DenseNet-BC (L=100,
    # k=12) 0.8M, both with 10 classes. The first convolution has "16 (or twice the growth rate
    # for DenseNet-BC) output channels".
    cases = (("densenet40_k12", 1.0, 40, 16), ("densenet_bc100_k12", 0.8, 100, 24))
    for name, millions, depth, initial in cases:
        summary = kerascnn.summary(name, print_fn=None)
        assert round(summary.trainable_params / 1e6, 1) == millions, name
        assert _conv_and_fc_layers(summary) == depth, name
        assert summary["conv1_conv"].output_shape[-1] == initial, name
        # Three dense blocks on 32x32, 16x16 and 8x8 maps (section 3, "Implementation Details").
        for stage, size in zip((2, 3, 4), (32, 16, 8)):
            assert summary[f"conv{stage}_block1_concat"].output_shape[1:3] == (size, size)


def test_groups_and_features_without_top():
    model = kerascnn.build("densenet40_k12", include_top=False, pooling="avg", depth=10)
    assert kerascnn.group_names(model) == ["input", "conv1", "conv2", "pool2", "conv3", "pool3",
                                           "conv4", "head"]
    # n = 2 layers per block of k = 12 maps; no compression: 16 + 3 * 2 * 12 = 88.
    assert model.output_shape == (None, 88)
    # Two 2x2/2 average poolings: 4 -> 2 -> 1.
    assert analysis.minimum_spatial_size(model) == (4, 4)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(depth=120), "Received: depth=120"),
        (dict(stem="cifar", depth=41, bottleneck=False), "Received: depth=41"),
        (dict(compression=0.0), "Received: compression=0.0"),
        (dict(growth_rate=0), "Received: growth_rate=0"),
        (dict(bottleneck="yes"), "Received: bottleneck='yes'"),
        (dict(stem="svhn"), "Received: stem='svhn'"),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        kerascnn.build("densenet121", **options)


def test_training_step_cifar_densenet_bc():
    # A shallow DenseNet-BC (n = 2 bottleneck layers per block, compression 0.5) with the paper's
    # dropout on: one SGD step on CPU moves every trainable variable.
    model = kerascnn.build("densenet_bc100_k12", depth=16, num_classes=4, dropout_rate=0.2)
    # Eagerly: the step is the same, without the cost of tracing a graph for one batch.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    before = [v.numpy().copy() for v in model.trainable_weights]
    assert np.isfinite(model.train_on_batch(x, np.arange(4)))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_weights))
