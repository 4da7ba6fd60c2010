"""VGG's configurations A-E against the paper, torchvision and keras.applications.

Sources: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015 (Table 1 configurations; Table 2 parameters in millions: A and A-LRN 133,
B 133, C 134, D 138, E 144); torchvision.models vgg*_Weights metadata (`num_params`, `_ops`
GFLOPS, which count multiply-accumulates); keras.applications VGG16/VGG19.
"""

import keras
import numpy as np
import pytest

import kerascnn
from conftest import build_shapes, trainable_count
from kerascnn.layers import LocalResponseNormalization
from kerascnn.registry import get_entry

# name: (trainable parameters, GMACs at 224x224, paper Table 2 "millions").
EXPECTED = {
    "vgg11": (132_863_336, 7.609, 133),  # torchvision VGG11_Weights: 132863336, _ops 7.609
    "vgg11_lrn": (132_863_336, 7.609, 133),  # A-LRN: LRN has no parameters (Table 2: 133)
    "vgg13": (133_047_848, 11.308, 133),  # torchvision VGG13_Weights: 133047848, _ops 11.308
    # C: D with three 3x3 convolutions made 1x1 (torchvision has no C). Parameters
    # 138,357,544 - 8*(256*256 + 2*512*512) = 133,638,952 (Table 2: 134); MACs 15.470G -
    # 8*(56*56*256*256 + 28*28*512*512 + 14*14*512*512) = 11,770,888,192.
    "vgg16_c": (133_638_952, 11.771, 134),
    "vgg16": (138_357_544, 15.47, 138),  # torchvision VGG16_Weights: 138357544, _ops 15.47
    "vgg19": (143_667_240, 19.632, 144),  # torchvision VGG19_Weights: 143667240, _ops 19.632
    "vgg11_bn": (132_868_840, 7.609, None),  # torchvision VGG11_BN_Weights: 132868840, 7.609
    "vgg13_bn": (133_053_736, 11.308, None),  # torchvision VGG13_BN_Weights: 133053736, 11.308
    "vgg16_bn": (138_365_992, 15.47, None),  # torchvision VGG16_BN_Weights: 138365992, 15.47
    "vgg19_bn": (143_678_248, 19.632, None),  # torchvision VGG19_BN_Weights: 143678248, 19.632
}


def test_every_variant_is_registered():
    assert sorted(kerascnn.list_models("vgg*")) == sorted(EXPECTED)


def test_parameters_and_macs():
    for name, (params, gmacs, paper_millions) in EXPECTED.items():
        model = build_shapes(name)
        assert trainable_count(model) == params, name
        if paper_millions is not None:
            assert round(params / 1e6) == paper_millions, name
        else:
            # BN variants: gamma and beta are trainable (torchvision counts them), the moving
            # statistics are not: two more values per channel in count_params().
            assert model.count_params() - params == params - EXPECTED[name[:-3]][0], name
        table = kerascnn.summary(model, print_fn=None)
        assert round(table.total_macs / 1e9, 3) == gmacs, name
        assert table["block5_pool"].output_shape == (None, 7, 7, 512), name


def test_configuration_table_layers():
    # Table 1: A has 8 convolutions, B 10, C and D 13, E 16 (plus 3 FC layers); C's last layer
    # in stages 3-5 is conv1; A-LRN normalizes after its first convolution.
    depths = {"vgg11": 8, "vgg13": 10, "vgg16_c": 13, "vgg16": 13, "vgg19": 16}
    for name, convs in depths.items():
        model = build_shapes(name)
        kernels = [layer.kernel_size for layer in model.layers
                   if isinstance(layer, keras.layers.Conv2D)]
        assert len(kernels) == convs, name
        if name == "vgg16_c":
            assert [i for i, k in enumerate(kernels) if k == (1, 1)] == [6, 9, 12]
        else:
            assert set(kernels) == {(3, 3)}
    lrn = build_shapes("vgg11_lrn")
    normalizations = [layer for layer in lrn.layers
                      if isinstance(layer, LocalResponseNormalization)]
    assert [layer.name for layer in normalizations] == ["block1_lrn"]
    # Section 2.3: "the parameters of the LRN layer are those of (Krizhevsky et al., 2012)".
    layer = normalizations[0]
    assert (layer.k, layer.n, layer.alpha, layer.beta) == (2.0, 5, 1e-4, 0.75)
    assert kerascnn.group_names(lrn) == [
        "input", "block1", "block2", "block3", "block4", "block5", "fc1", "fc2", "head"]
    bn = build_shapes("vgg16_bn")
    assert isinstance(bn.get_layer("block3_conv3_bn"), keras.layers.BatchNormalization)


def test_takes_keras_applications_weights():
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    for name, reference in (("vgg16", keras.applications.VGG16),
                            ("vgg19", keras.applications.VGG19)):
        ours = kerascnn.build(name, input_shape=(32, 32, 3), include_top=False, pooling="avg")
        theirs = reference(weights=None, include_top=False, input_shape=(32, 32, 3),
                           pooling="avg")
        assert [v.shape for v in ours.weights] == [v.shape for v in theirs.weights], name
        assert [layer.name for layer in ours.layers if layer.weights] == [
            layer.name for layer in theirs.layers if layer.weights], name
        ours.set_weights(theirs.get_weights())
        assert ours.output_shape == (None, 512)
        np.testing.assert_allclose(ours(x), theirs(x), atol=1e-4, rtol=1e-5)


def test_top_variables_match_keras_applications():
    # With the classifier too: same variable shapes and order as VGG16 at 224x224.
    ours = build_shapes("vgg16")
    with keras.StatelessScope(initialize_variables=False):
        theirs = keras.applications.VGG16(weights=None)
    assert [v.shape for v in ours.weights] == [v.shape for v in theirs.weights]
    assert ours.count_params() == theirs.count_params() == 138_357_544


def test_arguments():
    assert kerascnn.minimum_input_size("vgg16") == (32, 32)  # five 2x2/2 poolings
    with pytest.raises(ValueError, match="Received: config='F'"):
        kerascnn.build("vgg16", config="F")
    with pytest.raises(ValueError, match="Received: batch_norm='yes'"):
        kerascnn.build("vgg16", batch_norm="yes")


@pytest.mark.slow
def test_training_step():
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    for name in EXPECTED:
        # The family builder directly: the registry's minimum-size check is tested above.
        entry = get_entry(name)
        model = entry.builder(**entry.defaults, input_shape=(32, 32, 3), num_classes=3)
        model.compile(optimizer=keras.optimizers.SGD(0.01),
                      loss="sparse_categorical_crossentropy", run_eagerly=True)
        before = model.get_layer("block1_conv1").get_weights()[0].copy()
        assert np.isfinite(model.train_on_batch(x, np.array([0, 2]))), name
        assert not np.array_equal(model.get_layer("block1_conv1").get_weights()[0], before), name
