"""Growing a deeper network from a trained shallower one, by block-group names (VGG A -> D as in
the VGG paper, ResNet-20 -> ResNet-32 stage by stage), and the lower starting loss on digits."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import cli

# Simonyan & Zisserman 2015, Table 1: convolutions per stage, A = (1, 1, 2, 2, 2),
# D = (2, 2, 3, 3, 3).
VGG_A = {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
VGG_D = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}


def _same_weights(a, b, name):
    return all(np.array_equal(x, y) for x, y in zip(a.get_layer(name).get_weights(),
                                                    b.get_layer(name).get_weights()))


@pytest.mark.slow
def test_vgg_a_to_d():
    a = kerascnn.build("vgg11", num_classes=10, input_shape=(32, 32, 3))
    d, report = kerascnn.grow(a, "vgg16", return_report=True, verbose=0)
    a_convs = [f"block{s}_conv{i}" for s, n in VGG_A.items() for i in range(1, n + 1)]
    d_only = [f"block{s}_conv{i}" for s, n in VGG_D.items() for i in range(VGG_A[s] + 1, n + 1)]
    assert report.copied == a_convs + ["fc1", "fc2", "predictions"]
    assert report.initialized == d_only and not report.mismatched
    assert all(_same_weights(a, d, name) for name in report.copied)
    assert d.output_shape == (None, 10) and len(d.get_layer("block3_conv3").get_weights()) == 2
    # The paper's own choice: "the first four convolutional layers and the last three
    # fully-connected layers" of net A (section 3.1).
    paper = ["block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2", "fc*", "predictions"]
    _, report = kerascnn.grow(a, d, layers=paper, return_report=True, verbose=0)
    assert report.copied == a_convs[:4] + ["fc1", "fc2", "predictions"]
    assert report.excluded == a_convs[4:]


def test_resnet20_to_resnet32_stage_by_stage(tmp_path, capsys):
    r20 = kerascnn.build("resnet20", num_classes=10, input_shape=(8, 8, 1))
    r20.save(tmp_path / "r20.keras")
    assert cli.main(["grow", str(tmp_path / "r20.keras"), "resnet32",
                     "--out", str(tmp_path / "r32.keras")]) == 0
    assert "copied 39 layers" in capsys.readouterr().out
    r32 = kerascnn.load(tmp_path / "r32.keras")
    # He et al. 2016, section 4.2: three stages of n blocks, n = 3 (20 layers) and 5 (32 layers),
    # two 3x3 convolutions (each with batch norm) per block, option A shortcuts without weights.
    blocks = [f"conv{s}_block{b}_{i}_{op}" for s in (2, 3, 4) for b in range(1, 4)
              for i in (1, 2) for op in ("conv", "bn")]
    for name in ["conv1_conv", "conv1_bn", *blocks, "predictions"]:
        assert _same_weights(r20, r32, name), name
    new = [f"conv{s}_block{b}_{i}_{op}" for s in (2, 3, 4) for b in (4, 5)
           for i in (1, 2) for op in ("conv", "bn")]
    # Blocks 4 and 5 of each stage exist in the deeper network only, initialized afresh.
    assert all(name not in {layer.name for layer in r20.layers} for name in new)
    assert {layer.name for layer in r32.layers} >= set(new)
    assert cli.main(["grow", str(tmp_path / "r20.keras"), "resnet32",
                     "--out", str(tmp_path / "r32.keras")]) == 2  # Never overwrites.


def test_grow_reports_shape_mismatches():
    trained = kerascnn.build("lenet5", num_classes=10)
    grown, report = kerascnn.grow(trained, "lenet5", input_shape=(32, 32, 3), return_report=True,
                                  verbose=0)
    assert [name for name, _ in report.mismatched] == ["conv1_conv"]  # 1 vs 3 input channels.
    assert "conv1_conv" in report.initialized and "conv2_conv" in report.copied
    with pytest.raises(ValueError, match="target"):
        kerascnn.grow(trained, 42)
    with pytest.raises(ValueError, match="layers"):
        kerascnn.grow(trained, "lenet5", layers="conv*")


@pytest.mark.slow
def test_grown_network_starts_from_a_lower_loss_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    r20 = kerascnn.build("resnet20", num_classes=10, input_shape=(8, 8, 1))
    r20.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy",
                jit_compile=False)  # XLA's compile time would outweigh one short epoch.
    r20.fit(x[:640], y[:640], epochs=1, batch_size=64, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy()
    held_out_x, held_out_y = x[1500:], y[1500:]  # 297 images never seen in training.
    grown = kerascnn.grow(r20, "resnet32", verbose=0)
    fresh = kerascnn.build("resnet32", num_classes=10, input_shape=(8, 8, 1))
    # The loss the first training step sees (batch statistics, as in training).
    grown_loss = float(loss(held_out_y, grown(held_out_x, training=True)))
    fresh_loss = float(loss(held_out_y, fresh(held_out_x, training=True)))
    assert grown_loss < 0.5 * fresh_loss, (grown_loss, fresh_loss)
