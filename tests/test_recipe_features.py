"""Today's recipe features, each checked against its definition: label smoothing, mixup, cutmix,
RandAugment / TrivialAugment, random erasing, weight EMA, warm-up, gradient clipping and weight
decay that spares norms and biases."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascnn.data import regularizers
from kerascnn.training import compiling, ema, optim
from kerascnn.training.recipes import RECIPES, get_recipe, resolve_recipe

BASE = RECIPES["resnet_cifar"]


@pytest.mark.parametrize("field, value", [
    ("label_smoothing", 1.5), ("optimizer", "lion"), ("auto_augment", "autoaugment"),
    ("ema_decay", 1.0), ("clip_norm", 0.0), ("mixup_alpha", -1.0), ("min_steps", -5),
])
def test_bad_fields_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"{field}.*Received: {field}="):
        BASE.replace(**{field: value})


def test_unknown_field_and_recipe_names():
    with pytest.raises(ValueError, match="no field 'mixup'"):
        BASE.replace(mixup=0.2)
    with pytest.raises(ValueError, match="Did you mean: small_data"):
        get_recipe("small_dat")


def test_paper_recipes_leave_every_feature_off():
    for name, recipe in RECIPES.items():
        if name in ("modern", "small_data"):
            continue
        assert not recipe.soft_labels and not recipe.auto_augment and not recipe.ema_decay
        assert recipe.random_erasing == 0 and recipe.warmup_epochs == 0 and recipe.min_steps == 0


def test_resolve_recipe_by_data_size():
    assert resolve_recipe("paper", "resnet", (32, 32, 3), 100).name == "resnet_cifar"
    assert resolve_recipe("auto", "resnet", (32, 32, 3), 999).name == "small_data"
    assert resolve_recipe("auto", "resnet", (32, 32, 3), 50_000).name == "resnet_cifar"
    assert resolve_recipe("auto", "resnet", (32, 32, 3), None).name == "resnet_cifar"
    assert resolve_recipe("modern", "resnet").name == "modern"


def test_label_smoothing_matches_its_definition():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    recipe = BASE.replace(label_smoothing=0.2)
    compiling.compile_model(model, recipe, "sgd", 3, jit_compile=False)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    y = np.array([0, 1, 2, 1, 0])
    p = model.predict(x, verbose=0)
    target = np.eye(3)[y] * (1 - 0.2) + 0.2 / 3  # Szegedy et al. 2016, section 7.
    expected = np.mean(-np.sum(target * np.log(p), axis=1))
    loss = model.evaluate(x, np.eye(3, dtype="float32")[y], verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(expected, rel=1e-5)


def _index_batch(size=8, side=16):
    """Image i is filled with the value i and labelled i, so every mixed pixel and label says
    where it came from."""
    images = np.broadcast_to(np.arange(size, dtype="float32")[:, None, None, None],
                             (size, side, side, 3)).copy()
    return tf.constant(images), tf.constant(np.arange(size))


def test_mixup_mixes_images_and_labels_with_one_weight():
    images, labels = _index_batch()
    mix = regularizers.batch_transform(8, soft_labels=True, mixup_alpha=0.4, seed=1)
    mixed, soft = (t.numpy() for t in mix(images, labels))
    assert np.allclose(soft.sum(axis=1), 1.0)
    # Zhang et al. 2018: x = lam x_i + (1 - lam) x_j and y = lam y_i + (1 - lam) y_j.
    assert np.allclose(mixed[:, 0, 0, 0], soft @ np.arange(8), atol=1e-4)
    assert np.allclose(mixed, mixed[:, :1, :1, :1])  # The same weight for every pixel.
    assert not np.allclose(soft, np.eye(8))


def test_cutmix_labels_are_the_pasted_areas():
    images, labels = _index_batch(side=32)
    mix = regularizers.batch_transform(8, soft_labels=True, cutmix_alpha=1.0, seed=3)
    mixed, soft = (t.numpy() for t in mix(images, labels))
    for i in range(8):
        values, counts = np.unique(mixed[i, :, :, 0], return_counts=True)
        area = dict(zip(values.astype(int), counts / counts.sum()))
        # Yun et al. 2019: the label weights are the areas each image contributes. Keras weighs
        # by the box's real-valued area, which the pixels it pastes match to within one row
        # and one column.
        for j, share in area.items():
            assert soft[i, j] == pytest.approx(share, abs=(32 + 32 + 1) / 32 ** 2)
        assert soft[i].sum() == pytest.approx(1.0)
    assert not np.allclose(soft, np.eye(8))


def test_mixing_probability_switch_and_stop():
    images, labels = _index_batch()
    never = regularizers.batch_transform(8, soft_labels=True, mixup_alpha=0.4, probability=0.0)
    out, soft = never(images, labels)
    assert np.array_equal(out.numpy(), images.numpy()) and np.array_equal(soft.numpy(), np.eye(8))
    switch = regularizers.MixingSwitch(stop_epoch=2)
    mix = regularizers.batch_transform(8, soft_labels=True, mixup_alpha=0.4, cutmix_alpha=1.0,
                                       switch=switch, seed=2)
    switch.on_epoch_begin(1)
    assert not np.array_equal(mix(images, labels)[1].numpy(), np.eye(8))
    switch.on_epoch_begin(2)
    assert np.array_equal(mix(images, labels)[1].numpy(), np.eye(8))
    assert compiling.mix_stop_epoch(BASE.replace(mixup_alpha=0.2, mix_stop_epoch=91), 91) == 46


def test_sparse_labels_stay_sparse_without_smoothing_or_mixing():
    assert regularizers.batch_transform(8, soft_labels=False) is None


@pytest.mark.parametrize("auto_augment", ["randaugment", "trivialaugment"])
def test_auto_augment_changes_images_within_range(auto_augment):
    rng = np.random.default_rng(0)
    image = tf.constant(rng.uniform(0, 255, size=(24, 24, 3)).astype("float32"))
    transform = regularizers.image_transform(auto_augment=auto_augment, ops=2, magnitude=0.9,
                                             seed=0)
    outputs = [transform(image).numpy() for _ in range(8)]
    assert all(out.shape == image.shape for out in outputs)
    assert all(out.min() >= 0 and out.max() <= 255 for out in outputs)
    assert sum(not np.allclose(out, image.numpy(), atol=1e-3) for out in outputs) >= 4


def test_random_erasing_replaces_one_rectangle():
    erase = regularizers.image_transform(erasing=1.0, seed=0)
    for _ in range(6):
        image = erase(tf.fill((32, 32, 1), 100.0)).numpy()[..., 0]
        rows, cols = np.nonzero(image != 100.0)
        assert rows.size > 0
        box = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        # Zhong et al. 2020: a rectangle of noise, the rest untouched.
        assert (box != 100.0).mean() > 0.9
        assert rows.size < image.size


def test_random_erasing_with_a_constant_fill():
    erase = regularizers.image_transform(erasing=1.0, erasing_fill=127.5, seed=0)
    for _ in range(6):
        image = erase(tf.fill((32, 32, 3), 100.0)).numpy()
        erased = np.any(image != 100.0, axis=-1)
        rows, cols = np.nonzero(erased)
        # One rectangle, every pixel and channel of it the fill, the rest untouched.
        assert erased.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert np.all(image[erased] == 127.5) and erased.sum() < erased.size
    with pytest.raises(ValueError, match="Received: erasing_fill=300"):
        BASE.replace(erasing_fill=300)


def test_linear_warmup_then_schedule():
    recipe = BASE.replace(warmup_epochs=2, schedule="step", milestones=(91, 136))
    schedule = optim.make_schedule(recipe, 0.1, epochs=182, steps_per_epoch=5)
    rates = [float(schedule(step)) for step in range(12)]
    assert rates[:10] == pytest.approx([0.1 * (s + 1) / 10 for s in range(10)])
    assert rates[10:] == pytest.approx([0.1, 0.1])
    assert float(schedule(91 * 5 + 1)) == pytest.approx(0.01)
    reloaded = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(reloaded(3)) == pytest.approx(rates[3])


def test_cosine_warmup_is_keras_own():
    recipe = BASE.replace(warmup_epochs=1, schedule="cosine")
    schedule = optim.make_schedule(recipe, 0.2, epochs=10, steps_per_epoch=10)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(10)) == pytest.approx(0.2)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-6)


def test_gradient_clipping_by_global_norm():
    recipe = BASE.replace(clip_norm=1.0, momentum=0.0)
    optimizer = optim.make_optimizer(recipe, 0.5)
    a, b = keras.Variable(np.zeros(3, "float32")), keras.Variable(np.zeros(2, "float32"))
    grads = [np.array([30.0, 0, 40.0], "float32"), np.array([0.0, 0.0], "float32")]
    optimizer.apply_gradients(zip(grads, [a, b]))
    # Pascanu et al. 2013: g * clip / ||g|| when ||g|| > clip; ||g|| = 50 here.
    assert np.allclose(a.numpy(), -0.5 * np.array([0.6, 0.0, 0.8]), atol=1e-6)


def _small_model():
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3),
                             keras.layers.BatchNormalization(), keras.layers.Flatten(),
                             keras.layers.Dense(2)])


def test_adamw_spares_norms_and_biases():
    model = _small_model()
    recipe = BASE.replace(optimizer="adamw", weight_decay=0.1, decay_norm_and_bias=False)
    optimizer = optim.make_optimizer(recipe, 0.5)
    for v in model.trainable_weights:
        v.assign(np.ones(v.shape, "float32"))
    optimizer.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in model.trainable_weights])
    for v in model.trainable_weights:
        # Loshchilov & Hutter 2019: w <- w - lr * wd * w, Adam's own step being 0 here.
        expected = 1.0 if v.name in optim.NO_DECAY_NAMES else 1.0 - 0.5 * 0.1
        assert np.allclose(v.numpy(), expected), v.path


def test_l2_decay_can_spare_norms_and_biases():
    model = _small_model()
    assert optim.apply_weight_decay(model, 1e-4, decay_norm_and_bias=False) == 2  # 2 kernels
    assert optim.apply_weight_decay(_small_model(), 1e-4) == 6


def _tiny_digits(per_class=12):
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.concatenate([np.flatnonzero(digits.target == c)[:per_class] for c in range(10)])
    return (digits.images[keep] * (255 / 16)).astype("uint8")[..., None], digits.target[keep]


def test_ema_weights_are_the_final_model_and_checkpoints(tmp_path):
    import kerascnn

    recipe = RECIPES["small_data"].replace(ema_decay=0.9, min_steps=0, epochs=2)
    result = kerascnn.train("lenet5", _tiny_digits(), recipe=recipe, run_dir=str(tmp_path / "r"),
                            verbose=0, report=False, input_shape=(16, 16, 1))
    averages = [v.numpy() for v in result.model.optimizer._model_variables_moving_average]
    for weight, average in zip(result.model.trainable_weights, averages):
        assert np.allclose(weight.numpy(), average)
    last = keras.saving.load_model(str(tmp_path / "r" / "last.keras"), compile=False)
    for saved, weight in zip(last.trainable_weights, result.model.trainable_weights):
        assert np.allclose(saved.numpy(), weight.numpy())


def test_recipes_train_under_two_replicas_and_record_every_field(tmp_path):
    # A subprocess: logical CPU devices must be configured before TensorFlow's first operation.
    script = textwrap.dedent(f"""
        import json, numpy as np, kerascnn
        from sklearn.datasets import load_digits
        digits = load_digits()
        keep = np.concatenate([np.flatnonzero(digits.target == c)[:12] for c in range(10)])
        data = ((digits.images[keep] * (255 / 16)).astype("uint8")[..., None], digits.target[keep])
        from kerascnn.training.recipes import RECIPES
        for name in ("small_data", "modern"):
            # A few steps: small_data's 1,500 would make an epoch of 75 passes here.
            recipe = RECIPES[name].replace(min_steps=min(RECIPES[name].min_steps, 20))
            result = kerascnn.train("lenet5", data, recipe=recipe, epochs=2, cpu_replicas=2,
                                    run_dir={str(tmp_path)!r} + "/" + name, verbose=0,
                                    report=False, input_shape=(16, 16, 1), batch_size=16,
                                    validation_split=0.1)
            print("RESULT", json.dumps({{"recipe": name, "config": result.config["recipe"],
                  "replicas": result.config["strategy"]["replicas"],
                  "loss": result.metrics["loss"], "val": result.metrics["val_accuracy"]}}))
    """)
    path = tmp_path / "replicas.py"
    path.write_text(script)
    process = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                             timeout=300)
    results = [json.loads(line[len("RESULT "):]) for line in process.stdout.splitlines()
               if line.startswith("RESULT ")]
    assert process.returncode == 0 and len(results) == 2, process.stderr[-3000:]
    for result in results:
        assert result["replicas"] == 2
        assert np.isfinite(result["loss"]) and 0 <= result["val"] <= 1
        with open(os.path.join(tmp_path, result["recipe"], "config.json")) as handle:
            config = json.load(handle)
        expected = RECIPES[result["recipe"]].to_dict()
        expected["min_steps"] = min(expected["min_steps"], 20)
        assert config["recipe"] == result["config"] == expected


def test_fine_tune_adds_the_recipe_regularizers(tmp_path):
    import kerascnn

    base = kerascnn.build("lenet5", num_classes=10, input_shape=(16, 16, 1))
    recipe = RECIPES["small_data"].replace(mixup_alpha=0.2, clip_norm=1.0)
    model = kerascnn.fine_tune(base, _tiny_digits(), recipe=recipe, head_epochs=1, epochs=1,
                               verbose=0, run_dir=str(tmp_path / "ft"), report=False)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    with open(tmp_path / "ft" / "config.json") as handle:
        assert json.load(handle)["recipe"]["mixup_alpha"] == pytest.approx(0.2)


@pytest.mark.parametrize("warmup", [False, True])
def test_fine_tune_keeps_the_weight_ema_of_each_phase(tmp_path, warmup):
    import kerascnn

    class LastRawWeights(keras.callbacks.Callback):
        # At a batch's end the model holds the raw weights (the averages are swapped in only
        # for validation and at the end).
        def on_train_batch_end(self, batch, logs=None):
            self.raw = [w.numpy().copy() for w in self.model.trainable_weights]

    raw = LastRawWeights()
    base = kerascnn.build("lenet5", num_classes=10, input_shape=(16, 16, 1))
    recipe = RECIPES["small_data"].replace(ema_decay=0.9, ema_warmup=warmup)
    model = kerascnn.fine_tune(base, _tiny_digits(), recipe=recipe, head_epochs=1, epochs=1,
                               freeze_until=1, verbose=0, run_dir=str(tmp_path / "ft"),
                               report=False, callbacks=[raw])
    assert isinstance(model.optimizer.inner_optimizer, ema.EMAWarmup) == warmup
    averages = [v.numpy() for v in model.optimizer.inner_optimizer
                ._model_variables_moving_average]
    assert len(averages) == len(model.trainable_weights) == len(raw.raw) > 2
    for weight, average in zip(model.trainable_weights, averages):
        np.testing.assert_allclose(weight.numpy(), average, rtol=1e-6, atol=1e-7)
    # The averages are not the last step's weights: the EMA did something.
    assert any(not np.allclose(w.numpy(), r) for w, r in zip(model.trainable_weights, raw.raw))
    saved = keras.saving.load_model(str(tmp_path / "ft" / "model.keras"), compile=False)
    for saved_weight, weight in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(saved_weight, weight)


def test_advice_before_training_on_too_little_data(tmp_path, capsys):
    from kerascnn.training.advice import data_advice

    assert data_advice("resnet20", 120, 3, 269_722).startswith("120 training images (40 per")
    assert data_advice("resnet20", 3000, 3, 269_722) is None
    assert data_advice("lenet5", 120, 3, 61_706) is None
    import kerascnn

    # An MLP of 16x16 -> 512 -> 10 units has 136,714 parameters, as many as a small ResNet.
    result = kerascnn.train("mlp", _tiny_digits(4), epochs=1, run_dir=str(tmp_path / "r"),
                            verbose=2, report=False, input_shape=(16, 16, 1), hidden_units=(512,),
                            recipe=RECIPES["small_data"].replace(min_steps=0))
    out = capsys.readouterr().out
    # Below 100 images per class, nothing is held out by default, and the note says so.
    note = out.index("kerascnn: note: 40 training images (4 per class) are few for mlp")
    assert out.index("kerascnn: training mlp") < note  # With the run's plan, before fit.
    assert "lenet5" in result.config["advice"] and "fine_tune" in result.config["advice"]
    assert result.config["validation_examples"] == 0
    assert "No images are held out for validation" in result.config["advice"]
    assert result.config["data"]["validation_split"] == 0.0
