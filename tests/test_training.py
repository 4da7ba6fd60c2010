"""kerascnn.train / kerascnn.evaluate end to end on scikit-learn's digits, at small sizes."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.cli import main
from kerascnn.training import fit
from kerascnn.training.recipes import RECIPES

SMALL = dict(input_shape=(16, 16, 1), epochs=2, batch_size=64, verbose=0, augmentation=None,
             report=False)


def test_train_writes_the_run_directory_and_evaluate_agrees(tmp_path):
    run_dir = str(tmp_path / "run")
    result = kerascnn.train("lenet5", "digits", run_dir=run_dir, **{**SMALL, "report": True})
    for name in ("config.json", "history.csv", "best.keras", "last.keras", "report/report.html"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert os.listdir(os.path.join(run_dir, "logs"))  # TensorBoard event files.
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # Removed once the run finished.
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    assert config["status"] == "finished" and config["recipe"]["name"] == "lenet"
    assert config["class_names"] == [str(d) for d in range(10)]
    # sklearn's digits: 1,797 images; 10% held out.
    assert config["train_examples"] + config["validation_examples"] == 1797
    with open(os.path.join(run_dir, "history.csv")) as handle:
        header = handle.readline().strip().split(",")
        rows = handle.read().strip().splitlines()
    assert {"epoch", "loss", "accuracy", "val_accuracy", "top5_accuracy",
            "learning_rate"} <= set(header)
    assert len(rows) == 2 and result.history["val_accuracy"] == pytest.approx(
        [float(r.split(",")[header.index("val_accuracy")]) for r in rows])
    # The learning rate is the lenet recipe's 0.05 at batch 32, scaled to batch 64.
    assert result.config["learning_rate"] == pytest.approx(0.1)
    # The best checkpoint, evaluated through a separate code path, scores the best epoch's accuracy.
    scores = kerascnn.evaluate(run_dir, "digits", verbose=0)
    assert scores["examples"] == config["validation_examples"]
    assert scores["top1"] == pytest.approx(max(result.history["val_accuracy"]), abs=1e-6)
    assert scores["top5"] >= scores["top1"]
    ten = kerascnn.evaluate(os.path.join(run_dir, "last.keras"), "digits", crops="ten", verbose=0)
    assert 0.0 <= ten["top1"] <= 1.0 and ten["crops"] == "ten"
    # Same command, finished run: refused rather than overwritten.
    with pytest.raises(FileExistsError, match="finished run"):
        kerascnn.train("lenet5", "digits", run_dir=run_dir, **SMALL)
    # A changed configuration cannot resume someone else's unfinished run.
    config["status"] = "running"
    with open(os.path.join(run_dir, "config.json"), "w") as handle:
        json.dump(config, handle)
    with pytest.raises(ValueError, match="another configuration.*epochs"):
        kerascnn.train("lenet5", "digits", run_dir=run_dir, **{**SMALL, "epochs": 3})


class _PoisonAfterFirstEpoch(keras.callbacks.Callback):
    """Sets every weight to NaN after epoch 1 (after kerascnn's checkpoints): epoch 2 diverges."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.set_weights([np.full_like(w, np.nan) for w in self.model.get_weights()])


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    result = kerascnn.train("lenet5", "digits", run_dir=run_dir,
                            callbacks=[_PoisonAfterFirstEpoch()], steps_per_execution=8,
                            **{**SMALL, "epochs": 4})
    assert result.diverged
    # 8 steps per compiled call: the guard sees the first call's last batch.
    assert "diverged" in result.message and "epoch 2, batches 1-8," in result.message
    assert "last.keras (epoch 1)" in result.message
    assert "Training diverged" in capsys.readouterr().err
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["status"] == "diverged"
    last = keras.saving.load_model(os.path.join(run_dir, "last.keras"), compile=False)
    assert all(np.isfinite(w).all() for w in last.get_weights())
    # The returned model carries the last good weights, not the NaNs.
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    assert len(result.history["loss"]) == 2


def _tiny_googlenet_like(num_classes=10):
    """Three outputs like GoogLeNet with aux_logits: `predictions` and two auxiliary heads."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = [keras.layers.Dense(num_classes, activation="softmax", name=n)(x)
               for n in ("aux1_predictions", "predictions", "aux2_predictions")]
    return keras.Model(inputs, outputs, name="tiny_googlenet")


def test_auxiliary_classifiers_weigh_three_tenths(tmp_path):
    model = _tiny_googlenet_like()
    # Without weight decay, whose L2 term would also be part of the logged total loss.
    recipe = dataclasses.replace(RECIPES["googlenet"], weight_decay=0.0)
    result = kerascnn.train(model, "digits", recipe=recipe, run_dir=str(tmp_path / "run"),
                            **{k: v for k, v in SMALL.items() if k != "input_shape"})
    # Szegedy et al. 2015, section 5: the auxiliary losses are "added to the total loss of the
    # network with a discount weight (the losses of the auxiliary classifiers were weighted by
    # 0.3)".
    history = result.history
    total = [m + 0.3 * (a + b) for m, a, b in zip(
        history["predictions_loss"], history["aux1_predictions_loss"],
        history["aux2_predictions_loss"])]
    np.testing.assert_allclose(history["loss"], total, rtol=1e-4)
    assert "accuracy" in history and "val_accuracy" in history
    assert len(result.model.outputs) == 1 and result.model.output_names == ["predictions"]


def test_arguments_are_checked_before_training():
    with pytest.raises(ValueError, match="epochs must be an integer >= 1. Received: epochs=0"):
        kerascnn.train("lenet5", "digits", epochs=0)
    with pytest.raises(ValueError, match="Received: learning_rate=-1"):
        kerascnn.train("lenet5", "digits", learning_rate=-1)
    with pytest.raises(ValueError, match="Received: strategy='gpus'"):
        kerascnn.train("lenet5", "digits", strategy="gpus")
    with pytest.raises(ValueError, match="Received: jit_compile='yes'"):
        kerascnn.train("lenet5", "digits", jit_compile="yes")
    with pytest.raises(ValueError, match="Received: steps_per_execution=0"):
        kerascnn.train("lenet5", "digits", steps_per_execution=0)
    with pytest.raises(ValueError, match="Received: mixed_precision='float8'"):
        kerascnn.train("lenet5", "digits", mixed_precision="float8")
    with pytest.raises(ValueError, match="no TPU is attached"):
        kerascnn.train("lenet5", "digits", strategy="tpu")


def test_cli_errors_are_one_line(capsys):
    assert main(["train", "lenet5", "--data", "digits", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kerascnn: error: epochs must be an integer >= 1. Received: epochs=0"]
    assert main(["train", "lenet6", "--data", "digits"]) == 2
    assert "Did you mean: lenet5" in capsys.readouterr().err
    assert main(["evaluate", "/no/such/run", "--data", "digits"]) == 2
    assert "No such model file or directory" in capsys.readouterr().err


def test_flat_models_train_on_square_images():
    assert fit._flat_as_image((784,)) == (28, 28, 1)
    with pytest.raises(ValueError, match=r"input_shape=\(10,\)"):
        fit._flat_as_image((10,))


def test_mixed_precision_builds_under_the_policy_and_restores_it():
    import tensorflow as tf

    from kerascnn.data import DataBundle

    bundle = DataBundle(None, None, [str(i) for i in range(10)], 10, 0, 0, (16, 16, 1))
    gpu = bool(tf.config.list_physical_devices("GPU"))
    # float16 with loss scaling on GPUs; bfloat16, which CPUs and TPUs support, elsewhere.
    policy = fit._mixed_policy(True)
    assert policy == ("mixed_float16" if gpu else "mixed_bfloat16")
    model = fit._build_model("lenet5", "lenet5", bundle, (16, 16, 1), {}, policy,
                             tf.distribute.get_strategy())
    assert model.get_layer("conv1_conv").compute_dtype == ("float16" if gpu else "bfloat16")
    assert model.get_layer("conv1_conv").variable_dtype == "float32"
    assert model.get_layer("predictions").compute_dtype == "float32"  # Softmax in float32.
    assert keras.config.dtype_policy().name == "float32"


def test_xla_auto_follows_the_cpu_measurements(monkeypatch):
    import tensorflow as tf

    from kerascnn.training import xla

    # conftest sets TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow loads, as `import kerascnn` does.
    assert xla.onednn_enabled() == (os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1")
    model = kerascnn.build("lenet5")
    one_device = tf.distribute.get_strategy()
    long_run, short_run = xla.MIN_XLA_STEPS, xla.MIN_XLA_STEPS - 1
    monkeypatch.setattr(xla.tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(xla, "onednn_enabled", lambda: True)
    assert not xla.resolve_jit_compile("auto", model, one_device, "lenet", long_run)
    assert xla.resolve_jit_compile(True, model, one_device, "lenet", short_run)
    monkeypatch.setattr(xla, "onednn_enabled", lambda: False)
    assert xla.resolve_jit_compile("auto", model, one_device, "lenet", long_run)
    assert xla.resolve_jit_compile("auto", model, one_device, "resnet_cifar", long_run)
    assert not xla.resolve_jit_compile("auto", model, one_device, "lenet", short_run)
    assert not xla.resolve_jit_compile("auto", model, one_device, "resnet", long_run)
    assert not xla.resolve_jit_compile(False, model, one_device, "lenet", long_run)


def test_several_steps_per_call_train_the_same_weights(tmp_path):
    # Keras runs N steps in one compiled call; the steps, and so the weights, are the same.
    # 25 steps per epoch (1,617 images, batch 64: the last 17 of each pass are left out): "auto"
    # takes 5 steps per call, which divides an epoch of the endless stream; 4 and 8 do not, and
    # their calls stop at each epoch's end (a new iterator each epoch: another shuffle than the
    # endless stream's).
    weights = {}
    for steps, resolved in (("auto", 5), (1, 1), (8, 8), (4, 4)):
        result = kerascnn.train("lenet5", "digits", run_dir=str(tmp_path / str(steps)),
                                steps_per_execution=steps, **SMALL)
        with open(os.path.join(result.run_dir, "config.json")) as handle:
            assert json.load(handle)["steps_per_execution"] == resolved
        assert len(result.history["loss"]) == SMALL["epochs"]
        weights[steps] = result.model.get_weights()
    for several, fewer in (("auto", 1), (8, 4)):
        for theirs, ours in zip(weights[several], weights[fewer]):
            np.testing.assert_array_equal(theirs, ours)
    from kerascnn.training.execution import resolve_steps_per_execution

    import tensorflow as tf

    assert resolve_steps_per_execution("auto", tf.distribute.get_strategy(), "resnet") == 1
    assert resolve_steps_per_execution(4, tf.distribute.get_strategy(), "resnet") == 4
    assert resolve_steps_per_execution("auto", tf.distribute.get_strategy(), "lenet", 48) == 8
    assert resolve_steps_per_execution("auto", tf.distribute.get_strategy(), "lenet", 15) == 5
    assert resolve_steps_per_execution("auto", tf.distribute.get_strategy(), "lenet", 13) == 1
