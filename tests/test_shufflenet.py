"""ShuffleNet v1 (Zhang et al. 2018) and v2 (Ma et al. 2018): channel shuffle and split layers,
the published complexities and parameter counts, options, and training steps."""

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import analysis
from kerascnn.blocks.shuffle import shufflenet_unit
from kerascnn.layers import ChannelShuffle, ChannelSplit


def test_channel_shuffle_is_the_papers_reshape_transpose_flatten():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 12)).astype("float32")
    groups = 3
    # Section 3.1: reshape the output channel dimension into (g, n), transpose, flatten.
    expected = x.reshape(2, 3, 4, groups, 4).swapaxes(-1, -2).reshape(2, 3, 4, 12)
    np.testing.assert_array_equal(np.asarray(ChannelShuffle(groups)(x)), expected)
    # torchvision's channel_shuffle order: output channel i * g + j is input channel j * n + i.
    order = np.asarray(ChannelShuffle(groups)(np.arange(12, dtype="float32").reshape(1, 1, 1, 12)))
    assert order.ravel().tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]
    first, second = ChannelSplit(2)(x)
    np.testing.assert_array_equal(np.asarray(first), x[..., :6])
    np.testing.assert_array_equal(np.asarray(second), x[..., 6:])
    for layer in (ChannelShuffle(4, name="s"), ChannelSplit(3, name="p")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="Received: input channels=10"):
        ChannelShuffle(3)(x[..., :10])
    with pytest.raises(ValueError, match="Received: groups=0"):
        ChannelShuffle(0)


def test_shuffle_layers_save_and_export_with_unknown_sizes(tmp_path):
    import tensorflow as tf

    inputs = keras.Input((None, None, 12))
    left, right = ChannelSplit(2, name="unit_split")(inputs)
    joined = keras.layers.Concatenate(name="unit_concat")([right, left])
    model = keras.Model(inputs, ChannelShuffle(3, name="unit_shuffle")(joined))
    x = np.random.default_rng(0).normal(size=(2, 5, 3, 12)).astype("float32")
    expected = np.asarray(model(x))
    model.save(tmp_path / "shuffle.keras")
    reloaded = keras.saving.load_model(tmp_path / "shuffle.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), expected)
    model.export(tmp_path / "saved", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved")).serve(x)
    np.testing.assert_array_equal(np.asarray(served), expected)


def _macs_without_classifier(summary) -> float:
    return (summary.total_macs - summary["predictions"].macs) / 1e6


def test_v1_complexity_matches_table1():
    # Table 1 (224x224, 1x): 143 / 140 / 137 / 133 / 137 MFLOPs for g = 1 / 2 / 3 / 4 / 8, counting
    # the convolutions (the classifier's 0.6-1.5 M are outside the table's figures: with them g = 2,
    # 4, 8 would round to 141, 134, 138). Stage 2 widths 144 / 200 / 240 / 272 / 384.
    table1 = {1: (143, 144), 2: (140, 200), 3: (137, 240), 4: (133, 272), 8: (137, 384)}
    for groups, (mflops, stage2) in table1.items():
        summary = kerascnn.summary(f"shufflenet_g{groups}", print_fn=None)
        assert _macs_without_classifier(summary) == pytest.approx(mflops, abs=0.5), groups
        assert summary["stage2_unit4_relu"].output_shape == (None, 28, 28, stage2), groups
        assert summary["stage4_unit4_relu"].output_shape == (None, 7, 7, 4 * stage2), groups
        if groups in (3, 8):
            # The official code's README: 1.0x 1.9M (g = 3) and 2.4M (g = 8) parameters.
            assert round(summary.trainable_params / 1e6, 1) == {3: 1.9, 8: 2.4}[groups]


def test_v1_scaled_widths():
    # The official code's README, 0.5x: 38 MFLOPs and 0.7M parameters for g = 3, 40 MFLOPs and
    # 1.0M for g = 8 (classifier included); its widths are 12 -> 120 (g = 3) and 16 -> 192 (g = 8).
    for groups, (mflops, millions, stem, stage2) in {3: (38, 0.7, 12, 120),
                                                     8: (40, 1.0, 16, 192)}.items():
        summary = kerascnn.summary(f"shufflenet_g{groups}", scale=0.5, print_fn=None)
        assert summary.total_macs / 1e6 == pytest.approx(mflops, abs=0.5), groups
        assert round(summary.trainable_params / 1e6, 1) == millions, groups
        assert summary["conv1_conv"].output_shape[-1] == stem
        assert summary["stage2_unit1_relu"].output_shape[-1] == stage2
    # Table 2: ShuffleNet 0.25x (g = 3) is a 13 MFLOPs network.
    summary = kerascnn.summary("shufflenet_g3", scale=0.25, print_fn=None)
    assert _macs_without_classifier(summary) == pytest.approx(13, abs=0.5)


def test_v2_matches_torchvision_and_table5():
    # torchvision ShuffleNet_V2_X*_Weights meta: "num_params" and "_ops" (GFLOPS, as MACs).
    torchvision = {0.5: (1_366_792, 0.04), 1.0: (2_278_604, 0.145), 1.5: (3_503_624, 0.296),
                   2.0: (7_393_996, 0.583)}
    for scale, (params, gmacs) in torchvision.items():
        name = f"shufflenet_v2_x{str(scale).replace('.', '_')}"
        model = kerascnn.build(name)
        summary = kerascnn.summary(model, print_fn=None)
        assert summary.trainable_params == params, name
        assert round(summary.total_macs / 1e9, 3 if scale > 0.5 else 2) == gmacs, name
    assert kerascnn.group_names(model) == ["input", "conv1", "stage2", "stage3", "stage4", "conv5",
                                           "head"]
    # Every strided layer pads one pixel per side, as torchvision ("min_size": (1, 1)).
    assert analysis.minimum_spatial_size(model) == (1, 1)
    # Table 5 counts the authors' code (the first Stage 2 unit keeps 24 maps on its left branch):
    # 146 MFLOPs at 1x; the official README gives 2.3M parameters.
    summary = kerascnn.summary("shufflenet_v2_x1_0", authors_layout=True, print_fn=None)
    assert summary.total_macs / 1e6 == pytest.approx(146, abs=0.5)
    assert round(summary.trainable_params / 1e6, 1) == 2.3
    assert summary["stage2_unit1_branch1_pw_conv"].output_shape[-1] == 24


def test_v1_groups_and_features():
    model = kerascnn.build("shufflenet_g8", include_top=False, pooling="max",
                           input_shape=(64, 64, 3))
    assert kerascnn.group_names(model) == ["input", "conv1", "stage2", "stage3", "stage4", "head"]
    assert model.output_shape == (None, 1536)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("shufflenet_g3", dict(groups=5), "Received: groups=5"),
        ("shufflenet_g3", dict(scale=0), "Received: scale=0"),
        ("shufflenet_v2_x1_0", dict(scale=0.75), "Received: scale=0.75"),
        ("shufflenet_v2_x1_0", dict(authors_layout=1), "Received: authors_layout=1"),
    ],
)
def test_invalid_options(name, options, message):
    with pytest.raises(ValueError, match=message):
        kerascnn.build(name, **options)


def _train_step(model, shape):
    # Eagerly: the step is the same, without the cost of tracing a graph for one batch.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    x = np.random.default_rng(0).uniform(size=(4, *shape)).astype("float32")
    before = [v.numpy().copy() for v in model.trainable_weights]
    assert np.isfinite(model.train_on_batch(x, np.arange(4)))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_weights))


def test_training_steps():
    for name, options in (("shufflenet_v2_x0_5", {}), ("shufflenet_g1", {"scale": 0.25})):
        model = kerascnn.build(name, input_shape=(32, 32, 3), num_classes=4, **options)
        _train_step(model, (32, 32, 3))
    # Grouped pointwise convolutions and the shuffle between them, in a stride-2 and a stride-1
    # unit: Keras compiles each grouped convolution with XLA on CPU, which makes a step of a whole
    # g > 1 network slow to start; the build tests run those networks forward.
    inputs = keras.Input((8, 8, 12))
    x = shufflenet_unit(inputs, 24, groups=3, strides=2, name="stage2_unit1")
    x = shufflenet_unit(x, 24, groups=3, name="stage2_unit2")
    outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    _train_step(keras.Model(inputs, outputs), (8, 8, 12))
