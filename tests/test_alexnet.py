"""AlexNet and local response normalization against the paper and the lecture notes.

Sources: Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012 (section 3.3 LRN, figure 2); the SNU "CNN Architectures" notes in
shared/seeds ("#convparam: 34,848 (34K) 307,200 (307K) 884,736 (884K) 663,552 (663K) 442,368");
cs231n's "Full (simplified) AlexNet architecture" listing; Sze et al., "Efficient Processing of
Deep Neural Networks: A Tutorial and Survey", Proc. IEEE 2017, Table (AlexNet: 2.3M conv weights,
666M conv MACs, 58.6M FC weights and MACs, 724M MACs in all).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from conftest import build_shapes
from kerascnn.layers import LocalResponseNormalization

CONV_LAYERS = ("conv1_conv", "conv2_conv", "conv3_conv", "conv4_conv", "conv5_conv")


@pytest.fixture(scope="module")
def two_tower():
    return kerascnn.summary(build_shapes("alexnet"), print_fn=None)


@pytest.fixture(scope="module")
def one_tower():
    return kerascnn.summary(build_shapes("alexnet_onetower"), print_fn=None)


def test_two_tower_convolution_weights_match_the_notes(two_tower):
    # SNU notes: "#convparam: 34,848 307,200 884,736 663,552 442,368" (weights without biases).
    expected = (34_848, 307_200, 884_736, 663_552, 442_368)
    assert tuple(two_tower[name].weights for name in CONV_LAYERS) == expected


def test_two_tower_totals(two_tower):
    # The notes' conv weights (2,332,704) + conv biases 96+256+384+384+256 = 1,376 + FC6
    # 9216*4096+4096 + FC7 4096*4096+4096 + FC8 4096*1000+1000 (58,631,144): 60,965,224, the
    # paper's "60 million parameters".
    assert two_tower.total_params == 60_965_224
    assert two_tower.trainable_params == 60_965_224
    # Sze et al. 2017: 666M conv MACs + 58.6M FC MACs = 724M for AlexNet ("about 0.72 G").
    conv_macs = sum(two_tower[name].macs for name in CONV_LAYERS)
    assert round(conv_macs / 1e6) == 666
    assert round(two_tower.total_macs / 1e6) == 724


def test_two_tower_feature_maps(two_tower):
    # cs231n listing / figure 2: 55 -> pool 27 -> 27 -> pool 13 -> 13 -> 13 -> 13 -> pool 6.
    layers = ("conv1_conv", "conv1_pool", "conv2_conv", "conv2_pool", "conv3_conv", "conv4_conv",
              "conv5_conv", "conv5_pool")
    assert [two_tower[name].output_shape[1] for name in layers] == [55, 27, 27, 13, 13, 13, 13, 6]
    # Figure 2's caption: neurons 253,440-186,624-64,896-64,896-43,264-4096-4096-1000. conv2 to
    # conv5 and the FC layers agree; conv1's 55*55*96 = 290,400 does not match the printed
    # 253,440, a known slip of the caption.
    outputs = ("conv2_conv", "conv3_conv", "conv4_conv", "conv5_conv", "fc6_dense", "fc7_dense",
               "predictions")
    assert [two_tower[n].activations for n in outputs] == [
        186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
    assert two_tower["conv1_conv"].activations == 290_400


def test_towers_are_grouped_convolutions():
    model = build_shapes("alexnet")
    # Section 3.5: conv2, conv4 and conv5 connect only to maps on their own GPU.
    assert [model.get_layer(n).groups for n in CONV_LAYERS] == [1, 2, 1, 2, 2]
    lrn = [layer.name for layer in model.layers if isinstance(layer, LocalResponseNormalization)]
    assert lrn == ["conv1_lrn", "conv2_lrn"]
    config = model.get_layer("conv1_lrn").get_config()
    assert (config["k"], config["n"], config["alpha"], config["beta"]) == (2.0, 5, 1e-4, 0.75)
    assert [model.get_layer(f"{g}_dropout").rate for g in ("fc6", "fc7")] == [0.5, 0.5]
    assert kerascnn.group_names(model) == [
        "input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "head"]


def test_one_tower(one_tower):
    # One group: conv2, conv4, conv5 weights double (614,400, 1,327,104, 884,736), adding
    # 1,413,120 to 60,965,224: 62,378,344, the notes' "62M" (cs231n's simplified AlexNet).
    assert one_tower.total_params == 62_378_344
    assert one_tower["conv2_conv"].weights == 2 * 307_200


def test_minimum_input_size_and_features():
    # pool5 needs 3x3 from conv5, i.e. 7x7 after conv2 -> 15x15 after conv1 -> (15-1)*4+11 = 67.
    assert kerascnn.minimum_input_size("alexnet") == (67, 67)
    with pytest.raises(ValueError, match=r"Received: input_shape=\(66, 66, 3\)"):
        kerascnn.build("alexnet", input_shape=(66, 66, 3))
    features = kerascnn.build("alexnet", input_shape=(67, 67, 3), include_top=False,
                              pooling="avg")
    assert features.output_shape == (None, 256)
    with pytest.raises(ValueError, match="Received: towers=3"):
        kerascnn.build("alexnet", towers=3)


@pytest.mark.slow
def test_training_step_and_export(tmp_path):
    x = np.random.default_rng(0).uniform(size=(2, 67, 67, 3)).astype("float32")
    for name in ("alexnet_onetower", "alexnet"):
        model = kerascnn.build(name, input_shape=(67, 67, 3), num_classes=3)
        model.compile(optimizer=keras.optimizers.SGD(0.01),
                      loss="sparse_categorical_crossentropy", run_eagerly=True)
        before = model.get_layer("conv2_conv").get_weights()[0].copy()
        assert np.isfinite(model.train_on_batch(x, np.array([0, 2]))), name
        assert not np.array_equal(model.get_layer("conv2_conv").get_weights()[0], before), name
    # Grouped convolutions run through XLA on CPU; the exported SavedModel must serve them too.
    model.export(str(tmp_path / "alexnet"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "alexnet"))
    np.testing.assert_allclose(reloaded.serve(x), model(x), rtol=1e-5, atol=1e-6)


def _paper_lrn(a, k=2.0, n=5, alpha=1e-4, beta=0.75):
    # Section 3.3, written out with the paper's clipped channel sum.
    channels = a.shape[-1]
    b = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        b[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo:hi + 1] ** 2, axis=-1)) ** beta
    return b


def test_lrn_is_the_papers_formula():
    a = np.random.default_rng(1).normal(scale=30.0, size=(2, 4, 4, 9)).astype("float32")
    layer = LocalResponseNormalization()
    np.testing.assert_allclose(layer(a), _paper_lrn(a), rtol=1e-5)
    other = LocalResponseNormalization(k=1.0, n=3, alpha=0.5, beta=0.5)
    np.testing.assert_allclose(other(a), _paper_lrn(a, 1.0, 3, 0.5, 0.5), rtol=1e-5)
    # Ranks other than 4 take the window-sum path instead of TensorFlow's 4-D kernel.
    flat = a.reshape(2, 16, 9)
    np.testing.assert_allclose(layer(flat), _paper_lrn(flat), rtol=1e-5)


def test_lrn_gradient_is_the_papers_formulas():
    a = tf.constant(np.random.default_rng(2).normal(scale=30.0, size=(2, 3, 3, 7)), tf.float32)
    k, n, alpha, beta = 2.0, 5, 1e-3, 0.75

    def written_out(x):
        # The paper's clipped channel sum as explicit tf ops, differentiated by TensorFlow.
        squares = tf.square(x)
        columns = []
        for i in range(x.shape[-1]):
            lo, hi = max(0, i - n // 2), min(x.shape[-1] - 1, i + n // 2)
            window = tf.reduce_sum(squares[..., lo:hi + 1], axis=-1)
            columns.append(x[..., i] / (k + alpha * window) ** beta)
        return tf.stack(columns, axis=-1)

    layer = LocalResponseNormalization(k=k, n=n, alpha=alpha, beta=beta)
    upstream = tf.constant(np.random.default_rng(3).normal(size=a.shape), tf.float32)
    gradients = []
    for function in (layer, written_out):
        with tf.GradientTape() as tape:
            tape.watch(a)
            loss = tf.reduce_sum(function(a) * upstream)
        gradients.append(tape.gradient(loss, a))
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-4, atol=1e-6)


def test_lrn_serializes_and_validates():
    layer = LocalResponseNormalization(k=1.0, n=3, alpha=2e-5, beta=0.5, name="norm")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, LocalResponseNormalization)
    assert (clone.k, clone.n, clone.alpha, clone.beta, clone.name) == (1.0, 3, 2e-5, 0.5, "norm")
    with pytest.raises(ValueError, match="Received: n=4"):
        LocalResponseNormalization(n=4)
    with pytest.raises(ValueError, match="Received: beta=-1"):
        LocalResponseNormalization(beta=-1)
