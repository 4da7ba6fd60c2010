"""GoogLeNet against Table 1 of the paper and the lecture notes.

Sources: Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (Table 1; section 5 on the
auxiliary classifiers and the "1.5 billion multiply-adds" budget; figure 2 the naive module);
cs231n / the CS5242 notes in shared/seeds (naive module on 28x28x256: 854M ops).
"""

import keras
import numpy as np
import pytest

import kerascnn
from conftest import build_shapes
from kerascnn.blocks.inception import inception_module
from kerascnn.layers import LocalResponseNormalization
from kerascnn.models.googlenet import inference_model
from kerascnn.specs import googlenet as spec

K = 1024  # Table 1 counts params in K = 1024 weights (159.5K for 3a is 163,328 weights)

# Table 1, as printed: module: (input channels, grid, #1x1, #3x3 reduce, #3x3, #5x5 reduce,
# #5x5, pool proj, output depth, "params" (K), "ops" (M)).
TABLE_1 = {
    "inception3a": (192, 28, 64, 96, 128, 16, 32, 32, 256, 159, 128),
    "inception3b": (256, 28, 128, 128, 192, 32, 96, 64, 480, 380, 304),
    "inception4a": (480, 14, 192, 96, 208, 16, 48, 64, 512, 364, 73),
    "inception4b": (512, 14, 160, 112, 224, 24, 64, 64, 512, 437, 88),
    "inception4c": (512, 14, 128, 128, 256, 24, 64, 64, 512, 463, 100),
    "inception4d": (512, 14, 112, 144, 288, 32, 64, 64, 528, 580, 119),
    "inception4e": (528, 14, 256, 160, 320, 32, 128, 128, 832, 840, 170),
    "inception5a": (832, 7, 256, 160, 320, 32, 128, 128, 832, 1072, 54),
    "inception5b": (832, 7, 384, 192, 384, 48, 128, 128, 1024, 1388, 71),
}

# Weights (no biases) and MACs computed by hand from each row's widths:
# in*(#1x1 + #3x3red + #5x5red + proj) + 9*#3x3red*#3x3 + 25*#5x5red*#5x5, MACs = that * grid^2.
FROM_WIDTHS = {
    "conv1": (9_408, 118_013_952),  # 7*7*3*64; * 112*112
    "conv2": (114_688, 359_661_568),  # 1x1 3x3-reduce 64*64 + 3*3*64*192; * 56*56
    "inception3a": (163_328, 128_049_152),
    "inception3b": (388_096, 304_267_264),
    "inception4a": (375_552, 73_608_192),
    "inception4b": (448_512, 87_908_352),
    "inception4c": (509_440, 99_850_240),
    "inception4d": (604_672, 118_515_712),
    "inception4e": (867_328, 169_996_288),
    "inception5a": (1_042_432, 51_079_168),
    "inception5b": (1_442_816, 70_697_984),
    "predictions": (1_024_000, 1_024_000),  # linear 1024 -> 1000
}
# The other rows of Table 1 as printed: (params K, ops M).
PRINTED = {"conv1": (2.7, 34), "conv2": (112, 360), "predictions": (1000, 1)}
PRINTED.update({name: row[-2:] for name, row in TABLE_1.items()})

# Rows where the paper's own table disagrees with its widths (more than 1% off in params, more
# than 1M in ops): conv1 prints 2.7K params / 34M ops, but a 7x7x3 -> 64 convolution has 9.4K
# weights and 118M MACs on 112x112; 4c prints 463K (the widths give 497.5K); 4d 580K (590.5K);
# 5a 1072K (1018K) and 54M ops (51.1M); 5b 1388K (1409K). Every other row agrees within rounding:
# 3a 159.5K/159K, 3b 379K/380K, 4a 366.75K/364K, 4b 438K/437K, 4e 847K/840K, conv2 112K/112K.
PARAMS_DISAGREE = {"conv1", "inception4c", "inception4d", "inception5a", "inception5b"}
OPS_DISAGREE = {"conv1", "inception5a"}


@pytest.fixture(scope="module")
def table():
    return kerascnn.summary(build_shapes("googlenet"), print_fn=None)


def test_spec_is_table_one():
    assert {name: row[2:8] for name, row in TABLE_1.items()} == spec.INCEPTION


def test_hand_computation_matches_widths():
    # Guards FROM_WIDTHS against typos: recompute each module from TABLE_1.
    for name, (inputs, grid, ones, r3, threes, r5, fives, proj, depth, *_) in TABLE_1.items():
        weights = inputs * (ones + r3 + r5 + proj) + 9 * r3 * threes + 25 * r5 * fives
        assert FROM_WIDTHS[name] == (weights, weights * grid * grid), name
        assert ones + threes + fives + proj == depth, name


def test_table_one_rows(table):
    for row, (weights, macs) in FROM_WIDTHS.items():
        rows = table.select(row)
        assert sum(r.weights for r in rows) == weights, row
        assert sum(r.macs for r in rows) == macs, row
        printed_params, printed_ops = PRINTED[row]
        params_agree = abs(weights / K - printed_params) <= 0.01 * printed_params
        ops_agree = abs(macs / 1e6 - printed_ops) < 1
        assert params_agree == (row not in PARAMS_DISAGREE), row
        assert ops_agree == (row not in OPS_DISAGREE), row


def test_output_sizes_and_budget(table):
    for name, row in TABLE_1.items():
        grid, depth = row[1], row[8]
        assert table[f"{name}_concat"].output_shape == (None, grid, grid, depth), name
    assert table["conv1_conv"].output_shape == (None, 112, 112, 64)
    assert table["conv2_pool"].output_shape == (None, 28, 28, 192)
    # Section 5: "a computational budget of 1.5 billion multiply-adds at inference time".
    assert 1.5e9 < table.total_macs < 1.6e9


def test_paper_faithful_layers():
    model = build_shapes("googlenet")
    assert model.get_layer("inception3a_5x5_conv").kernel_size == (5, 5)
    assert [layer.name for layer in model.layers
            if isinstance(layer, LocalResponseNormalization)] == ["conv1_lrn", "conv2_lrn"]
    assert model.get_layer("head_dropout").rate == 0.4  # Table 1: dropout (40%)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    groups = kerascnn.group_names(model)
    assert groups == ["input", "conv1", "conv2", *TABLE_1, "head"]


def test_auxiliary_classifiers():
    model = build_shapes("googlenet", aux_logits=True)
    assert len(model.outputs) == 3
    summary = kerascnn.summary(model, print_fn=None)
    # Section 5: 5x5/3 average pooling gives 4x4x512 on 4a and 4x4x528 on 4d; 1x1 conv 128;
    # FC 1024 (4*4*128*1024 weights); dropout 70%.
    assert summary["aux1_pool"].output_shape == (None, 4, 4, 512)
    assert summary["aux2_pool"].output_shape == (None, 4, 4, 528)
    assert summary["aux1_conv"].output_shape == (None, 4, 4, 128)
    assert summary["aux1_fc"].weights == 4 * 4 * 128 * 1024
    assert model.get_layer("aux2_dropout").rate == 0.7
    assert spec.AUX_LOSS_WEIGHTS == (1.0, 0.3, 0.3)  # "discount weight (0.3)"
    assert len(inference_model(model).outputs) == 1
    with pytest.raises(ValueError, match="aux_logits=True needs a fixed input size with 5x5"):
        kerascnn.build("googlenet", aux_logits=True, input_shape=(64, 64, 3))


@pytest.mark.slow
def test_training_step_with_auxiliary_classifiers():
    model = kerascnn.build("googlenet", aux_logits=True, input_shape=(65, 65, 3), num_classes=3)
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=["sparse_categorical_crossentropy"] * 3,
                  loss_weights=list(spec.AUX_LOSS_WEIGHTS), run_eagerly=True)
    before = model.get_layer("aux1_fc").get_weights()[0].copy()
    x = np.random.default_rng(0).uniform(size=(2, 65, 65, 3)).astype("float32")
    y = np.array([0, 2])
    losses = model.train_on_batch(x, [y, y, y])
    assert np.all(np.isfinite(losses))
    assert not np.array_equal(model.get_layer("aux1_fc").get_weights()[0], before)
    single = inference_model(model)
    assert single.output_shape == (None, 3)
    np.testing.assert_allclose(single(x), model(x)[0], rtol=1e-6)
    features = kerascnn.build("googlenet", input_shape=(65, 65, 3), include_top=False,
                              pooling="avg", aux_logits=True)
    assert features.output_shape == (None, 1024)


def _module_cost(widths, naive):
    inputs = keras.Input((28, 28, 256))
    outputs = inception_module(inputs, widths, name="module", naive=naive)
    return kerascnn.summary(keras.Model(inputs, outputs), print_fn=None)


def test_naive_module_cost():
    # Notes: [1x1 conv, 128] 28*28*128*1*1*256 + [3x3 conv, 192] 28*28*192*3*3*256 +
    # [5x5 conv, 96] 28*28*96*5*5*256: "Total: 854M ops"; the pooled input passes through.
    naive = _module_cost((128, 64, 192, 64, 96, 64), naive=True)
    assert naive.total_macs == 854_196_224
    assert naive["module_concat"].output_shape == (None, 28, 28, 128 + 192 + 96 + 256)
    # The notes' bottleneck terms add up to 271,351,808 (they print "358M"; see test_analysis).
    reduced = _module_cost((128, 64, 192, 64, 96, 64), naive=False)
    assert reduced.total_macs == 271_351_808
    # In the network: 3a's naive module would cost 28*28*192*(64 + 9*128 + 25*32) MACs.
    network = kerascnn.summary(build_shapes("googlenet", naive=True), print_fn=None)
    assert sum(r.macs for r in network.select("inception3a")) == 303_464_448
