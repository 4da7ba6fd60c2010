"""MobileNet v1 (Howard et al. 2017): Tables 6-8's parameters and mult-adds, keras.applications
weight compatibility, options, and a training step."""

import keras
import numpy as np
import pytest

import kerascnn
from weight_values import randomize_weights
from kerascnn import analysis


def test_parameters_and_mult_adds_match_the_paper():
    # Table 6 (width multiplier, 224x224): 569 / 325 / 149 / 41 million mult-adds and 4.2 / 2.6 /
    # 1.3 / 0.5 million parameters for alpha 1.0 / 0.75 / 0.5 / 0.25. The paper rounds to the
    # million (mult-adds) and to 0.1 million (parameters).
    table6 = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}
    for alpha, (mult_adds, millions) in table6.items():
        summary = kerascnn.summary("mobilenet", alpha=alpha, print_fn=None)
        assert summary.total_macs / 1e6 == pytest.approx(mult_adds, abs=1), alpha
        assert round(summary.trainable_params / 1e6, 1) == millions, alpha
        if alpha == 1.0:
            # keras.applications.MobileNet(weights=None): 4,253,864 parameters, 4,231,976
            # trainable (the rest are the batch norms' moving statistics).
            assert summary.trainable_params == 4_231_976
            assert summary.total_params == 4_253_864
            # Table 1: 32 maps at 112x112 after the first convolution, 1024 at 7x7 at the end.
            assert summary["conv1_conv"].output_shape == (None, 112, 112, 32)
            assert summary["block13_pw_relu"].output_shape == (None, 7, 7, 1024)
    # Table 7 (resolution multiplier, alpha 1.0): 418 / 290 / 186 million mult-adds at 192 / 160 /
    # 128 pixels.
    for size, mult_adds in ((192, 418), (160, 290), (128, 186)):
        summary = kerascnn.summary("mobilenet", input_shape=(size, size, 3), print_fn=None)
        assert summary.total_macs / 1e6 == pytest.approx(mult_adds, abs=1), size


def _outputs(model, feature_layer, x):
    # The last block's features as well as the softmax: a wrong weight shows in the features at once.
    features = keras.Model(model.input, model.get_layer(feature_layer).output)
    return np.asarray(features(x, training=False)), np.asarray(model(x, training=False))


@pytest.mark.parametrize("alpha, depth_multiplier", [(1.0, 1), (0.5, 2)])
def test_takes_keras_applications_weights(alpha, depth_multiplier):
    # (Loading keras.applications' weight files is tests/test_weights.py's.)
    reference = keras.applications.MobileNet(
        weights=None, input_shape=(32, 32, 3), alpha=alpha, depth_multiplier=depth_multiplier
    )
    model = kerascnn.build("mobilenet", input_shape=(32, 32, 3), alpha=alpha,
                           depth_multiplier=depth_multiplier)
    assert [tuple(v.shape) for v in model.weights] == [tuple(v.shape) for v in reference.weights]
    assert [type(v).__name__ for v in model.layers if v.weights] == [
        type(v).__name__ for v in reference.layers if v.weights
    ]
    # Betas of a few units push some activations past 6, where ReLU6 differs from ReLU.
    randomize_weights(reference, beta_scale=3.0)
    model.set_weights(reference.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, size=(2, 32, 32, 3)).astype("float32")
    expected = _outputs(reference, "conv_pw_13_relu", x)
    assert np.std(expected[0]) > 1e-2  # features that depend on the weights
    for ours, theirs in zip(_outputs(model, "block13_pw_relu", x), expected):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_paper_activation_groups_and_minimum_size():
    model = kerascnn.build("mobilenet", input_shape=(32, 32, 3), alpha=0.25, activation="relu",
                           include_top=False, pooling="avg")
    # The paper's ReLU (section 3.1, Figure 3): unbounded above, unlike ReLU6.
    relu = model.get_layer("block1_dw_relu")
    assert relu.activation(np.array([7.0], "float32"))[0] == 7.0
    blocks = [f"block{i}" for i in range(1, 14)]
    assert kerascnn.group_names(model) == ["input", "conv1", *blocks, "head"]
    assert model.output_shape == (None, 256)
    # The stem's "same" 3x3/2 convolution gives ceil(n / 2); each of the 4 stride-2 blocks (pad
    # one, 3x3 valid) needs at least 2 pixels and halves them: 2 <- 4 <- 8 <- 16 <- 31.
    assert analysis.minimum_spatial_size(model) == (31, 31)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(alpha=0), "Received: alpha=0"),
        (dict(alpha=0.01), "Received: alpha=0.01"),
        (dict(depth_multiplier=0), "Received: depth_multiplier=0"),
        (dict(activation="gelu"), "Received: activation='gelu'"),
        (dict(dropout_rate=1.0), "Received: dropout_rate=1.0"),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        kerascnn.build("mobilenet", **options)


def test_training_step():
    model = kerascnn.build("mobilenet", input_shape=(32, 32, 3), alpha=0.25, num_classes=4)
    # Eagerly: the step is the same, without the cost of tracing a graph for one batch.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype("float32")
    before = [v.numpy().copy() for v in model.trainable_weights]
    assert np.isfinite(model.train_on_batch(x, np.arange(4)))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_weights))
