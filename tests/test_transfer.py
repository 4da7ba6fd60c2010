"""Transfer learning: freezing by block group (weights and batch-norm statistics untouched), the new
head, per-group learning rates in one serializable optimizer, feature extraction, the advisor, and
`kerascnn finetune` on an image folder."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn import cli
from kerascnn.transfer import (
    GroupLearningRates,
    freeze,
    layerwise_decay,
    linear_probe,
    replace_head,
    trainable_groups_for,
)


def _bn_net(num_classes=3):
    """A two-stage conv + batch-norm network named the kerascnn way (conv1_*, conv2_*, head)."""
    inputs = keras.Input((8, 8, 1), name="input")
    x = inputs
    for group, filters in (("conv1", 4), ("conv2", 8)):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{group}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"{group}_bn")(x)
        x = keras.layers.ReLU(name=f"{group}_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="bn_net")


def _arrays(n=48, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, 8, 8, 1)).astype("float32"), rng.integers(0, classes, n)


def test_fine_tune_keeps_frozen_weights_and_batch_norm_statistics(tmp_path):
    source = _bn_net()
    source(np.zeros((1, 8, 8, 1), "float32"))
    # Non-trivial statistics, so that "unchanged" cannot mean "still at their initial values".
    for layer in ("conv1_bn", "conv2_bn"):
        bn = source.get_layer(layer)
        bn.moving_mean.assign(np.full(bn.moving_mean.shape, 0.3, "float32"))
        bn.moving_variance.assign(np.full(bn.moving_variance.shape, 2.0, "float32"))
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in source.layers}

    tuned = kerascnn.fine_tune(source, _arrays(), freeze_until="conv2", head_epochs=1, epochs=2,
                               batch_size=16, verbose=0, run_dir=str(tmp_path / "run"))

    def same(name):
        after = tuned.get_layer(name).get_weights()
        return all(np.array_equal(a, b) for a, b in zip(before[name], after))

    # Frozen group: kernels, gamma/beta and the moving statistics are bit-identical.
    assert same("conv1_conv") and same("conv1_bn")
    assert not tuned.get_layer("conv1_bn").trainable
    # The unfrozen group trained (its batch norm updated its statistics): the check above can fail.
    assert not same("conv2_conv") and not same("conv2_bn")
    assert tuned.output_shape == (None, 4)  # New head for the data's 4 classes.
    # The caller's model is left as it was.
    assert all(np.array_equal(a, b) for layer in source.layers
               for a, b in zip(before[layer.name], layer.get_weights()))
    assert isinstance(tuned.optimizer, GroupLearningRates)
    assert tuned.optimizer.multipliers == {"head": 0.1, "conv2": 0.1}  # The notes' tenth.
    with open(tmp_path / "run" / "config.json") as f:
        config = json.load(f)
    assert config["frozen_groups"] == ["conv1"] and config["class_names"] == ["0", "1", "2", "3"]
    assert set(json.load(open(tmp_path / "run" / "history.json"))) == {"head", "fine_tune"}


def test_phase_one_trains_the_head_alone():
    source = _bn_net()
    source(np.zeros((1, 8, 8, 1), "float32"))
    before = {layer.name: layer.get_weights() for layer in source.layers}
    tuned = kerascnn.fine_tune(source, _arrays(classes=3), freeze_until=0, head_epochs=1,
                               epochs=1, batch_size=16, verbose=0)
    for name in ("conv1_conv", "conv1_bn", "conv2_conv", "conv2_bn"):
        after = tuned.get_layer(name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(before[name], after))
    head = tuned.get_layer("predictions").get_weights()[0]
    assert not np.array_equal(before["predictions"][0], head)


def test_freeze_by_group_name_or_count():
    model = kerascnn.build("lenet5")  # groups: input, conv1, conv2, fc3, fc4, head
    assert trainable_groups_for(model, "fc3") == ["fc3", "fc4"]
    assert trainable_groups_for(model, 1) == ["fc4"]
    assert trainable_groups_for(model, 0) == []
    assert trainable_groups_for(model, 4) == ["conv1", "conv2", "fc3", "fc4"]
    with pytest.raises(ValueError, match=r"conv1, conv2, fc3, fc4.*freeze_until='conv9'"):
        trainable_groups_for(model, "conv9")
    with pytest.raises(ValueError, match="freeze_until=5"):
        trainable_groups_for(model, 5)
    with pytest.raises(ValueError, match="freeze_until=2.5"):
        trainable_groups_for(model, 2.5)
    assert freeze(model, ["fc4"]) == ["conv1", "conv2", "fc3"]
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    assert trainable == {"fc4_dense", "predictions"}


def test_replace_head_shares_the_backbone():
    model = kerascnn.build("lenet5", num_classes=10)
    new = replace_head(model, 5)
    assert new.output_shape == (None, 5)
    assert new.get_layer("fc4_dense") is model.get_layer("fc4_dense")
    assert new.get_layer("predictions") is not model.get_layer("predictions")
    with pytest.raises(ValueError, match="Dense classifier"):
        replace_head(kerascnn.build("lenet5_1998"), 5)


def _grads_and_vars(model):
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 1)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) ** 2)
    return tape.gradient(loss, model.trainable_variables), model.trainable_variables


@pytest.mark.parametrize("make", [
    lambda lr: keras.optimizers.Adam(lr),
    lambda lr: keras.optimizers.AdamW(lr, weight_decay=0.1),
    lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
], ids=["adam", "adamw", "sgd"])
def test_group_learning_rates_equal_separate_optimizers(make):
    model = kerascnn.build("lenet5", num_classes=3)
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    factors = {"head": 1.0, "fc4": 0.1, "conv*": 0.5}  # Exact name, then a glob pattern.
    grouped = GroupLearningRates(make(0.01), factors, default_multiplier=0.0)
    # Oracle: Keras's own optimizer at rate 0.01 * factor on each group's variables alone.
    by_factor = {}
    for variable in reference.trainable_variables:
        layer = variable.path.split("/")[0]
        factor = 1.0 if layer == "predictions" else 0.1 if layer.startswith("fc4") else \
            0.5 if layer.startswith("conv") else 0.0
        by_factor.setdefault(factor, []).append(variable)
    separate = {f: make(0.01 * f) for f in by_factor if f}
    for _ in range(3):
        grads, variables = _grads_and_vars(model)
        grouped.apply(grads, variables)
        grads, variables = _grads_and_vars(reference)
        lookup = {id(v): g for g, v in zip(grads, variables)}
        for factor, optimizer in separate.items():
            optimizer.apply([lookup[id(v)] for v in by_factor[factor]], by_factor[factor])
    for ours, theirs in zip(model.weights, reference.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=ours.path)
    frozen = model.get_layer("fc3_dense").kernel  # fc3 is in no listed group: factor 0.
    assert np.array_equal(frozen.numpy(), reference.get_layer("fc3_dense").kernel.numpy())
    assert int(grouped.iterations.numpy()) == 3


def test_group_learning_rates_save_and_resume(tmp_path):
    model = kerascnn.build("mlp", num_classes=3, input_shape=(6,), hidden_units=(5,))
    model.compile(GroupLearningRates(keras.optimizers.SGD(0.1, momentum=0.9), {"head": 1.0},
                                     default_multiplier=0.1), "sparse_categorical_crossentropy",
                  jit_compile=False)
    x = np.random.default_rng(2).normal(size=(8, 6)).astype("float32")
    y = np.arange(8) % 3
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = kerascnn.load(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, GroupLearningRates)
    assert loaded.optimizer.multipliers == {"head": 1.0}
    assert loaded.optimizer.default_multiplier == 0.1
    assert int(loaded.optimizer.iterations.numpy()) == 4
    # Both continue identically: momentum and the step counter came back with the weights.
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_group_learning_rates_reject_bad_factors():
    with pytest.raises(ValueError, match="multipliers"):
        GroupLearningRates("sgd", {"head": -1.0})
    with pytest.raises(ValueError, match="default_multiplier"):
        GroupLearningRates("sgd", {}, default_multiplier="x")


def test_layerwise_decay():
    model = kerascnn.build("lenet5")
    assert layerwise_decay(model, 0.5) == {
        "head": 1.0, "fc4": 0.5, "fc3": 0.25, "conv2": 0.125, "conv1": 0.0625}
    with pytest.raises(ValueError, match="decay"):
        layerwise_decay(model, 1.5)


def test_features_from_block_groups():
    model = kerascnn.build("lenet5")
    extractor = kerascnn.features(model, ["conv1", "fc3"])
    x = np.random.default_rng(3).uniform(size=(2, 32, 32, 1)).astype("float32")
    out = extractor(x)
    # LeNet-5: C1+S2 gives 6@14x14, F5 ("fc3") 120 units (LeCun et al. 1998, Fig. 2).
    assert tuple(out["conv1"].shape) == (2, 14, 14, 6) and tuple(out["fc3"].shape) == (2, 120)
    pool = keras.Model(model.input, model.get_layer("conv1_pool").output)
    np.testing.assert_allclose(out["conv1"], pool(x), atol=1e-6)
    pooled = kerascnn.features(model, "conv2", pooling="avg")(x)
    conv2 = keras.Model(model.input, model.get_layer("conv2_pool").output)(x)
    np.testing.assert_allclose(pooled["conv2"], np.mean(conv2, axis=(1, 2)), atol=1e-6)
    with pytest.raises(ValueError, match=r"conv1, conv2, fc3, fc4, head.*conv7"):
        kerascnn.features(model, ["conv7"])


@pytest.mark.parametrize("similar, size, plan", [
    # The CS5242 notes' table (after cs231n): rows "very little data" / "quite a lot of data",
    # columns "very similar dataset" / "very different dataset".
    (True, "little", "linear_top"),
    (True, "a lot", "finetune_few"),
    (False, "a lot", "finetune_most"),
    (False, "little", "linear_stages"),
    (True, 20, "linear_top"),
    (True, 5000, "finetune_few"),
])
def test_advise_follows_the_notes_table(similar, size, plan):
    assert kerascnn.advise(similar, size).name == plan


def test_advise_names_the_models_groups():
    model = kerascnn.build("lenet5")  # backbone groups: conv1, conv2, fc3, fc4
    assert kerascnn.advise(True, "little", model).freeze_until == 0
    assert kerascnn.advise(True, "a lot", model).freeze_until == 2
    assert kerascnn.advise(False, "a lot", model).freeze_until == 3
    stages = kerascnn.advise(False, "little", model)
    assert stages.feature_groups == ("conv2", "fc3")
    assert stages.fine_tune_kwargs() == {"freeze_until": 0}
    with pytest.raises(ValueError, match="data_size"):
        kerascnn.advise(True, "some")
    with pytest.raises(ValueError, match="similar"):
        kerascnn.advise("yes", 10)


def _image_folder(root, classes=("cat", "dog"), per_class=8):
    rng = np.random.default_rng(4)
    for index, name in enumerate(classes):
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (12, 12, 3)).astype(np.uint8) + 120 * index
            tf.io.write_file(str(root / name / f"{i}.png"), tf.io.encode_png(pixels))


@pytest.mark.slow
def test_cli_finetune_on_an_image_folder(tmp_path, capsys):
    _image_folder(tmp_path / "pets")
    source = kerascnn.build("lenet5", num_classes=10, input_shape=(16, 16, 1))
    source.save(tmp_path / "pretrained.keras")
    run_dir = tmp_path / "run"
    status = cli.main(["finetune", str(tmp_path / "pretrained.keras"), "--data",
                       str(tmp_path / "pets"), "--freeze-until", "fc4", "--head-epochs", "1",
                       "--epochs", "1", "--batch-size", "4", "--run-dir", str(run_dir),
                       "--verbose", "0", "--export", str(tmp_path / "served")])
    assert status == 0, capsys.readouterr().err
    tuned = kerascnn.load(run_dir / "model.keras")
    assert tuned.output_shape == (None, 2)
    with open(tmp_path / "served" / "1" / "kerascnn.json") as f:
        assert json.load(f)["class_names"] == ["cat", "dog"]
    assert cli.main(["finetune", str(tmp_path / "pretrained.keras"), "--data",
                     str(tmp_path / "pets"), "--freeze-until", "conv9"]) == 2
    assert "conv9" in capsys.readouterr().err


def test_linear_probe_on_stages():
    model = kerascnn.build("lenet5", input_shape=(16, 16, 1))
    accuracy = linear_probe(model, "digits", ["conv1", "fc4"])
    assert list(accuracy) == ["conv1", "fc4"]
    # Even random convolution features let a linear classifier read digits far above the 10%
    # of chance (Jarrett et al., "What is the best multi-stage architecture...", ICCV 2009).
    assert accuracy["conv1"] > 0.5
    with pytest.raises(ValueError, match="validation split"):
        linear_probe(model, "digits", ["conv1"], validation_split=0.0)
