"""Inception-v4 and Inception-ResNet-v1/v2 against the paper, timm and keras.applications.

Sources: Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017 (Table 1: k, l, m, n; figures 3-19; grids 35x35,
17x17, 8x8); timm `inception_v4` (42,679,816 parameters, pytorch-image-models model card);
keras.applications InceptionResNetV2 (Total params 55,873,736, trainable 55,813,192).
"""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import analysis
from conftest import build_shapes, trainable_count
from kerascnn.layers import ScaledResidual
from kerascnn.models.inception_v4 import inception_v4 as builder
from kerascnn.specs import inception_v4 as spec

NAMES = ("inception_v4", "inception_resnet_v1", "inception_resnet_v2")

# (stem 35x35 width, Reduction-A 17x17 width, Reduction-B 8x8 width, feature width).
WIDTHS = {
    # Figure 9: 35x35x384, 17x17x1024, 8x8x1536; pooled 1536.
    "inception_v4": (384, 1024, 1536, 1536),
    # Figure 15 (its sizes are Inception-ResNet-v1's): 35x35x256, 17x17x896, 8x8x1792.
    "inception_resnet_v1": (256, 896, 1792, 1792),
    # keras.applications: mixed_5b 35x35x320, mixed_6a 17x17x1088, mixed_7a 8x8x2080,
    # conv_7b 1536.
    "inception_resnet_v2": (320, 1088, 2080, 1536),
}


@pytest.fixture(scope="module")
def full():
    return {name: build_shapes(name) for name in NAMES}


def test_parameter_counts(full):
    # timm inception_v4: 42,679,816 parameters (batch norm with learned gamma and beta).
    assert trainable_count(full["inception_v4"]) == 42_679_816
    # keras.applications InceptionResNetV2: total 55,873,736, trainable 55,813,192.
    assert full["inception_resnet_v2"].count_params() == 55_873_736
    assert trainable_count(full["inception_resnet_v2"]) == 55_813_192


def test_grids_and_widths(full):
    for name, (stem, reduction_a, reduction_b, features) in WIDTHS.items():
        model = full[name]
        groups = kerascnn.block_groups(model)
        assert groups["stem"][-1].output.shape == (None, 35, 35, stem), name
        assert groups["reductiona"][-1].output.shape == (None, 17, 17, reduction_a), name
        assert groups["reductionb"][-1].output.shape == (None, 8, 8, reduction_b), name
        assert model.get_layer("head_avg_pool").output.shape == (None, features), name
        assert model.get_layer("head_dropout").rate == pytest.approx(0.2)  # "keep 0.8"


def test_reduction_a_follows_table_one(full):
    # Table 1 of the paper: k, l, m, n of Reduction-A for each network.
    paper = {
        "inception_v4": (192, 224, 256, 384),
        "inception_resnet_v1": (192, 192, 256, 384),
        "inception_resnet_v2": (256, 256, 384, 384),
    }
    assert spec.KLMN == paper
    for name, (k, l, m, n) in paper.items():  # noqa: E741
        model = full[name]
        filters = [model.get_layer(f"reductiona_branch{b}_{i}_conv").filters
                   for b, i in ((1, 0), (1, 1), (1, 2), (0, 0))]
        assert filters == [k, l, m, n], name


def test_block_counts_and_residual_scales(full):
    def groups(model, prefix):
        return [g for g in kerascnn.group_names(model) if g.startswith(prefix)]

    # Figure 9: 4 x Inception-A, 7 x Inception-B, 3 x Inception-C.
    v4 = full["inception_v4"]
    assert [len(groups(v4, f"inception{x}")) for x in "abc"] == [4, 7, 3]
    assert not any(isinstance(layer, ScaledResidual) for layer in v4.layers)
    # Figure 15: 5 x A, 10 x B, 5 x C for Inception-ResNet-v1.
    v1 = full["inception_resnet_v1"]
    scales = [layer.scale for layer in v1.layers if isinstance(layer, ScaledResidual)]
    assert scales == [0.17] * 5 + [0.1] * 10 + [0.2] * 5
    # keras.applications: 10 x block35 (0.17), 20 x block17 (0.1), 10 x block8 (0.2, the last
    # with scale 1.0 and no activation).
    v2 = full["inception_resnet_v2"]
    scales = [layer.scale for layer in v2.layers if isinstance(layer, ScaledResidual)]
    assert scales == [0.17] * 10 + [0.1] * 20 + [0.2] * 9 + [1.0]
    names = kerascnn.group_names(v2)
    assert names[:3] == ["input", "stem", "inceptionresneta1"]
    assert names[-2:] == ["conv7b", "head"]
    assert "inceptionresnetc10_out" not in [layer.name for layer in v2.layers]


@pytest.fixture(scope="module")
def resnet_v2_pair():
    # Built by the family builder at keras.applications' minimum size, 75x75 (the registry's
    # minimum-size check would build a third network).
    ours = builder(variant="inception_resnet_v2", input_shape=(75, 75, 3), num_classes=5,
                   classifier_activation=None)
    theirs = keras.applications.InceptionResNetV2(
        weights=None, input_shape=(75, 75, 3), classes=5, classifier_activation=None)
    return ours, theirs


@pytest.mark.slow
def test_inception_resnet_v2_takes_keras_applications_weights(resnet_v2_pair):
    ours, theirs = resnet_v2_pair
    assert [v.shape for v in ours.weights] == [v.shape for v in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    rng = np.random.default_rng(0)
    # Random statistics, not the initial zeros and ones, so batch norm is really exercised.
    values = [rng.uniform(0.5, 1.5, v.shape) if "variance" in v.path else
              rng.normal(0.0, 0.05, v.shape) for v in theirs.weights]
    theirs.set_weights(values)
    ours.set_weights(theirs.get_weights())
    x = rng.uniform(-1, 1, size=(2, 75, 75, 3)).astype("float32")
    expected = np.asarray(theirs(x, training=False))
    np.testing.assert_allclose(ours(x, training=False), expected, atol=1e-4)
    assert np.abs(expected).max() > 1e-3  # the comparison is not between two near-zero outputs


def _training_step(model, loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, run_eagerly=True)
    before = model.get_layer("stem_conv1_conv").get_weights()[0].copy()
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 75, 75, 3)).astype("float32")
    assert np.isfinite(model.train_on_batch(x, np.array([0, 2])))
    assert not np.array_equal(model.get_layer("stem_conv1_conv").get_weights()[0], before)


@pytest.mark.slow
def test_training_steps(resnet_v2_pair):
    _training_step(resnet_v2_pair[0],
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for variant in ("inception_v4", "inception_resnet_v1"):
        _training_step(builder(variant=variant, input_shape=(75, 75, 3), num_classes=3))


def test_minimum_input_size(full):
    # keras.applications' InceptionResNetV2 documents min_size=75 as well.
    for name in NAMES:
        assert analysis.minimum_spatial_size(full[name]) == (75, 75), name


def test_include_top_false_pooling():
    # The other two networks' feature widths are checked on `head_avg_pool` above.
    with keras.StatelessScope(initialize_variables=False):
        features = builder(variant="inception_resnet_v1", input_shape=(75, 75, 3),
                           include_top=False, pooling="max")
    assert features.output_shape == (None, 1792)
    with pytest.raises(ValueError, match="Received: variant='inception_v3'"):
        kerascnn.build("inception_v4", variant="inception_v3")


def test_scaled_residual_layer():
    layer = ScaledResidual(0.17, name="add")
    shortcut, residual = np.ones((1, 2, 2, 3), "float32"), np.full((1, 2, 2, 3), 2.0, "float32")
    np.testing.assert_allclose(layer([shortcut, residual]), 1.0 + 0.17 * 2.0)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, ScaledResidual) and clone.scale == 0.17
    with pytest.raises(ValueError, match="Received: scale='big'"):
        ScaledResidual("big")
