import numpy as np
import pytest

import kerascnn
from conftest import trainable_count


def test_single_layer_worked_example():
    # The SNU "Terminology" notes: input [1 2 4 0], the 4x3 weights, bias [2 1 3] ->
    # pre-activation [1 -7 8] (x W = [-1 -8 5], plus bias) -> ReLU [1 0 8].
    weights = np.array([[1, 0, 1], [3, 0, 2], [-2, -2, 0], [1, 1, 0]], dtype="float32")
    bias = np.array([2, 1, 3], dtype="float32")
    x = np.array([[1, 2, 4, 0]], dtype="float32")
    linear = kerascnn.build("single_layer", classifier_activation=None)
    relu = kerascnn.build("single_layer")
    for model in (linear, relu):
        model.get_layer("predictions").set_weights([weights, bias])
    np.testing.assert_array_equal(linear.predict(x, verbose=0), [[1, -7, 8]])
    np.testing.assert_array_equal(relu.predict(x, verbose=0), [[1, 0, 8]])


def test_perceptron_is_one_sigmoid_neuron():
    model = kerascnn.build("perceptron", input_shape=(3,))
    assert model.output_shape == (None, 1)
    assert trainable_count(model) == 4
    model.get_layer("predictions").set_weights([np.ones((3, 1), "float32"), np.zeros(1, "float32")])
    assert model.predict(np.zeros((1, 3), "float32"), verbose=0)[0, 0] == pytest.approx(0.5)


def test_mlp_configuration():
    model = kerascnn.build("mlp", input_shape=(8, 8, 1), hidden_units=(32, 16), dropout_rate=0.25)
    # (64*32 + 32) + (32*16 + 16) + (16*10 + 10)
    assert trainable_count(model) == 2080 + 528 + 170
    assert kerascnn.group_names(model) == ["input", "stem", "fc1", "fc2", "head"]
    with pytest.raises(ValueError, match=r"Received: hidden_units=\(32, 0\)"):
        kerascnn.build("mlp", hidden_units=(32, 0))
    with pytest.raises(ValueError, match="Received: dropout_rate=1.5"):
        kerascnn.build("mlp", dropout_rate=1.5)


def test_lenet5_modern_parameters():
    # 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706 (cs231n; the CS5242 table).
    assert trainable_count(kerascnn.build("lenet5")) == 61_706
    # The CS5242 table uses 3 input channels: conv1 grows to 5*5*3*6 + 6 = 456.
    rgb = kerascnn.summary("lenet5", input_shape=(32, 32, 3), print_fn=None)
    assert rgb["conv1_conv"].params == 456
    assert rgb.trainable_params == 61_706 - 156 + 456


def test_lenet5_1998_matches_the_paper():
    # LeCun et al. 1998, section II.B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164
    # trainable parameters, 60,000 in all; the RBF prototypes are fixed.
    table = kerascnn.summary("lenet5_1998", print_fn=None)
    per_layer = {
        "c1_conv": 156, "s2_subsample": 12, "c3_conv": 1_516,
        "s4_subsample": 32, "c5_conv": 48_120, "f6_dense": 10_164,
    }
    for layer, count in per_layer.items():
        assert table[layer].trainable_params == count, layer
    assert table.trainable_params == 60_000
    assert table["predictions_rbf"].trainable_params == 0
    assert table["c3_conv"].output_shape == (None, 10, 10, 16)
    assert table["c5_conv"].output_shape == (None, 1, 1, 120)


def test_lenet5_1998_c3_follows_table_one():
    model = kerascnn.build("lenet5_1998")
    kernel = np.asarray(model.get_layer("c3_conv").full_kernel())
    connected = np.any(kernel != 0, axis=(0, 1))  # (6 input maps, 16 output maps)
    # Table I: map 0 combines S2 maps 0-2; map 15 combines all six; map 12 takes 0, 1, 3, 4.
    assert connected[:, 0].tolist() == [True, True, True, False, False, False]
    assert connected[:, 15].all()
    assert connected[:, 12].tolist() == [True, True, False, True, True, False]
    assert connected.sum() == 60


def test_lenet5_1998_rbf_prototypes_are_digit_bitmaps():
    from kerascnn.models.lenet import rbf_prototypes

    codes = rbf_prototypes(10)
    assert codes.shape == (10, 84)
    assert set(np.unique(codes)) == {-1.0, 1.0}
    assert len({tuple(c) for c in codes}) == 10
    model = kerascnn.build("lenet5_1998", classifier_activation=None)
    f6 = model.get_layer("f6_tanh").output
    import keras

    scorer = keras.Model(f6, model.output)
    # A feature vector equal to prototype 7 is at distance zero from it: class 7 wins.
    scores = scorer.predict(codes[7:8].astype("float32"), verbose=0)
    assert scores.argmax() == 7 and scores[0, 7] == 0.0
