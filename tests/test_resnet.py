"""ResNet v1 (He et al. 2015): ImageNet depths, the CIFAR networks and their plain twins."""

import keras
import numpy as np
import pytest

import kerascnn
from conftest import build_shapes, trainable_count
from kerascnn.analysis import analyze

# torchvision's ResNet weights metadata ("num_params"): the trainable parameters of its models,
# which share this package's bias-free convolutions and batch norms.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
# He et al. 2015, Table 1, "FLOPs" (multiply-adds) x 10^9 at 224x224, to the table's one decimal.
PAPER_GMACS = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6}


@pytest.fixture(scope="module")
def imagenet_models():
    names = ("resnet18", "resnet34", "resnet50", "resnet101")
    models = {name: build_shapes(name) for name in names}
    # torchvision's layout ("v1.5") strides in the 3x3 of a bottleneck; the counts are the same.
    models["resnet50_v1.5"] = build_shapes("resnet50", stride_at="3x3")
    models["resnet152_v1.5"] = build_shapes("resnet152", stride_at="3x3")
    return {name: (model, analyze(model)) for name, model in models.items()}


@pytest.mark.parametrize("name", list(TORCHVISION_PARAMS))
def test_imagenet_parameters(imagenet_models, name):
    _, table = imagenet_models.get(name) or imagenet_models[f"{name}_v1.5"]
    assert table.trainable_params == TORCHVISION_PARAMS[name]
    if name in PAPER_GMACS:
        assert abs(table.total_macs / 1e9 - PAPER_GMACS[name]) < 0.1


def test_torchvision_macs(imagenet_models):
    # torchvision's "GFLOPS" column (multiply-adds at 224x224): resnet18 1.81, resnet50 4.09,
    # resnet152 11.51 (basic blocks have one place for the stride only).
    assert round(imagenet_models["resnet18"][1].total_macs / 1e9, 2) == 1.81
    assert round(imagenet_models["resnet50_v1.5"][1].total_macs / 1e9, 2) == 4.09
    assert round(imagenet_models["resnet152_v1.5"][1].total_macs / 1e9, 1) == 11.5


def test_resnet50_layout_and_family_name(imagenet_models):
    model = imagenet_models["resnet50"][0]
    assert kerascnn.group_names(model) == [
        "input", "conv1", "pool1", "conv2", "conv3", "conv4", "conv5", "head",
    ]
    # Table 1: conv2_x 56x56, conv3_x 28x28, conv4_x 14x14, conv5_x 7x7 at 224x224.
    for stage, size, blocks, width in (("conv2", 56, 3, 256), ("conv3", 28, 4, 512),
                                       ("conv4", 14, 6, 1024), ("conv5", 7, 3, 2048)):
        output = model.get_layer(f"{stage}_block{blocks}_out").output
        assert output.shape == (None, size, size, width)
    # The paper's model and keras.applications stride in the first 1x1 of a bottleneck.
    assert model.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert not model.get_layer("conv3_block1_1_conv").use_bias
    generic = build_shapes("resnet", depth=50)
    assert [layer.name for layer in generic.layers] == [layer.name for layer in model.layers]
    assert generic.count_params() == model.count_params()


def test_imagenet_options_are_validated():
    with pytest.raises(ValueError, match="Received: depth=42"):
        kerascnn.build("resnet", depth=42)
    with pytest.raises(ValueError, match="Received: shortcut='D'"):
        kerascnn.build("resnet18", shortcut="D")
    with pytest.raises(ValueError, match="basic blocks"):
        kerascnn.build("resnet18", groups=32)
    with pytest.raises(ValueError, match="Received: drop_path_rate=1.0"):
        kerascnn.build("resnet18", drop_path_rate=1.0)


# He et al. 2015, section 4.2: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M and 19.4M parameters; the exact
# counts are those of the option-A networks with batch norm (e.g. akamaster's
# pytorch_resnet_cifar10 reference: resnet20 0.27M = 269,722).
CIFAR_PARAMS = {
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
}


def test_cifar_layout_and_shortcut_options():
    # Section 4.2: 32x32, 16x16, 8x8 maps with 16, 32, 64 filters.
    model = build_shapes("resnet20")
    for stage, size, width in (("conv2", 32, 16), ("conv3", 16, 32), ("conv4", 8, 64)):
        assert model.get_layer(f"{stage}_block3_out").output.shape == (None, size, size, width)
    assert model.get_layer("conv3_block1_0_zero_pad").count_params() == 0
    # Option B adds a 1x1 projection with batch norm at the two widening blocks:
    # (16*32 + 2*32) + (32*64 + 2*64) trainable parameters.
    projected = build_shapes("resnet20", shortcut="B")
    assert trainable_count(projected) - CIFAR_PARAMS["resnet20"] == 576 + 2_176
    assert projected.get_layer("conv4_block1_0_conv").strides == (2, 2)
    with pytest.raises(ValueError, match="Received: depth=21"):
        kerascnn.build("resnet20", depth=21)
    with pytest.raises(ValueError, match="Received: depth=56"):
        kerascnn.build("resnet18", depth=56)


def test_zero_padded_identity_is_the_strided_identity_with_zero_channels():
    from kerascnn.layers import ZeroPaddedIdentity

    x = np.arange(2 * 5 * 5 * 3, dtype="float32").reshape(2, 5, 5, 3)
    y = keras.ops.convert_to_numpy(ZeroPaddedIdentity(8, 2)(x))
    assert y.shape == (2, 3, 3, 8)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0.0)
    with pytest.raises(ValueError, match="Received: filters=0"):
        ZeroPaddedIdentity(0)


CIFAR_NETWORKS = [*CIFAR_PARAMS, *(name.replace("resnet", "plain") for name in CIFAR_PARAMS)]


@pytest.mark.parametrize("name", CIFAR_NETWORKS)
def test_cifar_parameters_and_training_step(name):
    model = train_one_step(name)
    assert model.output_shape == (None, 10)
    # Section 4.2: option A keeps the residual networks exactly as large as the plain ones.
    assert trainable_count(model) == CIFAR_PARAMS[name.replace("plain", "resnet")]
    blocks = (int(name.lstrip("resnetplain")) - 2) // 6
    additions = sum(isinstance(layer, keras.layers.Add) for layer in model.layers)
    assert additions == (0 if name.startswith("plain") else 3 * blocks)


def test_resnet1202_parameters():
    # He et al. 2015, section 4.2 / Table 6: "a 1202-layer network ... 19.4M".
    assert round(trainable_count(build_shapes("resnet1202")) / 1e6, 1) == 19.4


def train_one_step(name, **kwargs):
    """One SGD step on two CIFAR-sized images: finite loss, and the stem's kernel has moved."""
    model = kerascnn.build(name, classifier_activation=None, **kwargs)
    # Plain SGD: momentum slots would double the variables to create. Eager: for one step,
    # tracing the graph costs more than running it.
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    stem = model.get_layer("conv1_conv")
    kernel = keras.ops.convert_to_numpy(stem.kernel)
    loss = model.train_on_batch(x, np.array([1, 7]))
    assert np.isfinite(loss)
    assert np.max(np.abs(keras.ops.convert_to_numpy(stem.kernel) - kernel)) > 0
    return model
