"""`kerascnn.training.plan`: every refusal comes before any data loads, the plan is frozen and
writes nothing; `DataSpec`, the record of a run's data that the report and `evaluate` reload."""

import dataclasses
import json

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.training.dataspec import DataSpec
from kerascnn.training.plan import plan
from kerascnn.transfer.finetune import plan_fine_tune


@pytest.fixture
def no_loading(monkeypatch):
    """Makes reading any data fail the test."""
    import kerascnn.data
    import kerascnn.data.loading

    def load(*args, **kwargs):
        raise AssertionError("data was loaded before the arguments were refused")

    monkeypatch.setattr(kerascnn.data, "load", load)
    monkeypatch.setattr(kerascnn.data.loading, "load", load)


def _tiny_net(classes=3):
    inputs = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(4, 3, name="conv1_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv2_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax",
                                                  name="predictions")(x), name="tiny")


@pytest.mark.parametrize("arguments, error, message", [
    ({"epochs": 0}, ValueError, "Received: epochs=0"),
    ({"batch_size": -2}, ValueError, "Received: batch_size=-2"),
    ({"learning_rate": float("nan")}, ValueError, "Received: learning_rate=nan"),
    ({"validation_split": 1.5}, ValueError, "'auto' or a number in .0, 1.. Received: "
                                            "validation_split=1.5"),
    ({"validation_split": "half"}, ValueError, "Received: validation_split='half'"),
    ({"verbose": "loud"}, ValueError, "Received: verbose='loud'"),
    ({"jit_compile": "yes"}, ValueError, "Received: jit_compile='yes'"),
    ({"steps_per_execution": 0}, ValueError, "Received: steps_per_execution=0"),
    ({"mixed_precision": "float8"}, ValueError, "Received: mixed_precision='float8'"),
    ({"strategy": "gpus"}, ValueError, "Received: strategy='gpus'"),
    ({"recipe": "papr"}, ValueError, "Received: recipe='papr'"),
])
def test_train_plan_refuses_bad_arguments_before_loading(no_loading, arguments, error, message):
    with pytest.raises(error, match=message):
        plan("lenet5", "digits", **arguments)
    with pytest.raises(error, match=message):
        kerascnn.train("lenet5", "digits", **arguments)


def test_train_plan_refuses_names_models_and_run_directories(no_loading, tmp_path):
    with pytest.raises(ValueError, match="Did you mean: lenet5"):
        plan("lenet6", "digits")
    with pytest.raises(ValueError, match="Build arguments apply to models given by name"):
        plan(_tiny_net(), "digits", dropout_rate=0.5)
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "config.json").write_text(json.dumps({"status": "finished"}))
    with pytest.raises(FileExistsError, match="finished run"):
        plan("lenet5", "digits", run_dir=str(finished))
    other = tmp_path / "other"
    seven = plan("lenet5", "digits", run_dir=str(other), epochs=7).config()
    other.mkdir()
    (other / "config.json").write_text(json.dumps({**seven, "status": "running"}))
    with pytest.raises(ValueError, match="another configuration.*epochs: 7 -> 3"):
        plan("lenet5", "digits", run_dir=str(other), epochs=3)
    (tmp_path / "served" / "4").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="export version directory exists"):
        plan("lenet5", "digits", run_dir=str(tmp_path / "new"),
             export=str(tmp_path / "served" / "4"))


def test_the_default_hold_out_is_none_below_a_hundred_images_per_class(no_loading, tmp_path):
    from kerascnn.data.counting import count_classes, split_and_count

    labels = np.repeat(np.arange(10), 5)
    five_per_class = (np.zeros((50, 8, 8, 1), "uint8"), labels)
    ninety_nine_per_class = (np.zeros((990, 8, 8, 1), "uint8"), np.repeat(np.arange(10), 99))
    hundred_per_class = (np.zeros((1000, 8, 8, 1), "uint8"), np.repeat(np.arange(10), 100))
    assert count_classes(five_per_class) == 10
    assert count_classes((five_per_class[0], np.eye(10)[labels])) == 10  # One-hot.
    assert split_and_count("auto", five_per_class)[0] == 0.0
    assert split_and_count("auto", ninety_nine_per_class)[0] == 0.0
    assert split_and_count("auto", hundred_per_class)[0] == 0.1
    assert split_and_count(0.25, five_per_class)[0] == 0.25  # Given: kept.
    assert split_and_count("auto", "digits")[0] == 0.1  # 1,797 images of 10 classes.
    for kind, count in (("circle", 90), ("square", 90), ("triangle", 110)):
        (tmp_path / "shapes" / kind).mkdir(parents=True)
        for index in range(count):
            (tmp_path / "shapes" / kind / f"{index}.png").write_bytes(b"")
    assert count_classes(str(tmp_path / "shapes")) == 3
    assert split_and_count("auto", str(tmp_path / "shapes"))[0] == 0.0  # 290 < 100 x 3.
    # The plan holds out nothing there, records the share it resolved, and picks its recipe
    # from all 50 images.
    decided = plan("lenet5", five_per_class, input_shape=(16, 16, 1))
    assert decided.data.to_dict()["validation_split"] == 0.0
    assert decided.recipe.name == "small_data"
    assert plan("lenet5", hundred_per_class, input_shape=(16, 16, 1)).data.to_dict()[
        "validation_split"] == 0.1
    # Fine-tuning holds out the same way, and takes the same choices.
    few = (np.zeros((15, 8, 8, 1), "uint8"), np.repeat(np.arange(3), 5))
    assert plan_fine_tune(_tiny_net(), few).data.to_dict()["validation_split"] == 0.0
    assert plan_fine_tune(_tiny_net(), "digits").data.to_dict()["validation_split"] == 0.1
    assert plan_fine_tune(_tiny_net(), few, validation_split=0.2).data.to_dict()[
        "validation_split"] == 0.2
    with pytest.raises(ValueError, match="Received: validation_split='half'"):
        plan_fine_tune(_tiny_net(), few, validation_split="half")


def test_a_plan_is_frozen_writes_nothing_and_resumes_its_own_run(no_loading, tmp_path):
    run_dir = tmp_path / "run"
    decided = plan("lenet5", "digits", run_dir=str(run_dir), batch_size=64, epochs=3,
                   input_shape=(16, 16, 1), export=str(tmp_path / "served"))
    assert not run_dir.exists() and not (tmp_path / "served").exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        decided.batch_size = 32
    assert decided.recipe.name == "lenet" and decided.epochs == 3 and not decided.resume
    # The lenet recipe's 0.05 at batch 32, scaled linearly to batch 64 (Goyal et al. 2017).
    assert decided.phases[0].learning_rate == pytest.approx(0.1)
    assert decided.export_dir == str(tmp_path / "served" / "1")
    assert decided.data.to_dict()["data"] == "digits" and decided.model.input_shape == (16, 16, 1)
    # An unfinished run of the same configuration is resumed; the plan says so.
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({**decided.config(), "status": "running"}))
    assert plan("lenet5", "digits", run_dir=str(run_dir), batch_size=64, epochs=3,
                input_shape=(16, 16, 1)).resume


def test_fine_tune_plan_refuses_before_loading(no_loading, tmp_path):
    with pytest.raises(ValueError, match=r"conv1, conv2.*freeze_until='conv9'"):
        plan_fine_tune(_tiny_net(), "digits", freeze_until="conv9")
    with pytest.raises(ValueError, match="Received: head_epochs=-1"):
        kerascnn.fine_tune(_tiny_net(), "digits", head_epochs=-1)
    with pytest.raises(ValueError, match="Received: optimizer='rmsprop'"):
        kerascnn.fine_tune(_tiny_net(), "digits", optimizer="rmsprop")
    with pytest.raises(ValueError, match="Received: head_factor=0"):
        kerascnn.fine_tune(_tiny_net(), "digits", head_factor=0)
    with pytest.raises(ValueError, match="modrn"):
        kerascnn.fine_tune(_tiny_net(), "digits", recipe="modrn")
    with pytest.raises(ValueError, match="weights applies to a model built by name"):
        kerascnn.fine_tune(_tiny_net(), "digits", weights="imagenet")
    (tmp_path / "config.json").write_text(json.dumps({"status": "finished"}))
    with pytest.raises(FileExistsError, match="finished run"):
        kerascnn.fine_tune(_tiny_net(), "digits", run_dir=str(tmp_path))


def test_fine_tune_plan_is_two_phases_of_one_run(no_loading):
    decided = plan_fine_tune(_tiny_net(), "digits", freeze_until=1, head_epochs=2, epochs=3)
    head, tune = decided.phases
    assert (head.name, head.epochs, head.trainable) == ("head", 2, ())
    assert (tune.name, tune.epochs, tune.trainable) == ("fine_tune", 3, ("conv2",))
    # The notes' tenth of the base rate for the head and the unfrozen group.
    assert dict(tune.multipliers) == {"head": 0.1, "conv2": 0.1}
    assert decided.epochs == 5 and decided.temporary
    assert decided.config()["frozen_groups"] == ["conv1"]


def test_data_spec_records_and_recognizes_a_folder(tmp_path, monkeypatch):
    folder = tmp_path / "pets"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    spec = DataSpec.of("pets", validation_split=0.3, seed=2, split=("train", "val"))
    record = json.loads(json.dumps(spec.to_dict()))  # Through JSON, as config.json keeps it.
    assert record["path"] == str(folder) and record["data"] == "pets"
    again = DataSpec.from_config({"data": record})
    assert again == spec and again.split == ("train", "val")
    assert again.load_options() == {"validation_split": 0.3, "seed": 2, "split": ("train", "val")}
    monkeypatch.chdir(folder)  # The same folder, named from elsewhere.
    assert again.is_same(".") and again.is_same(str(folder)) and not again.is_same("digits")
    assert again.location() == str(folder)


def test_data_spec_of_in_memory_data_cannot_be_reloaded():
    spec = DataSpec.of((np.zeros((4, 8, 8, 1)), np.arange(4)), seed=1)
    assert spec.to_dict()["data"] is None and spec.to_dict()["kind"] == "arrays"
    recorded = DataSpec.from_config({"data": spec.to_dict()})
    assert not recorded.reloadable
    with pytest.raises(ValueError, match="in memory"):
        recorded.load(input_shape=(8, 8, 1))
    # Hand-written configs: a bare name, or the source under "name".
    assert DataSpec.from_config({"data": "digits"}).source == "digits"
    assert DataSpec.from_config({"data": {"name": "digits", "seed": 3}}).load_options() == \
        {"seed": 3}
    assert DataSpec.from_config({}) is None
    with pytest.raises(TypeError, match="augmentation"):
        DataSpec.of("digits", augmentation="flip")


def test_a_small_set_gets_batches_of_its_share_at_the_recipe_rate(no_loading):
    from kerascnn.training.recipes import RECIPES

    recipe = RECIPES["small_data"].replace(min_batches=2)
    fifteen = (np.zeros((15, 8, 8, 1), "uint8"), np.repeat(np.arange(3), 5))
    decided = plan("lenet5", fifteen, recipe=recipe, input_shape=(16, 16, 1))
    # Two batches a pass: ceil(15 / 2) = 8 images, at the rate the recipe sets for its batch.
    assert decided.batch_size == 8
    assert decided.phases[0].learning_rate == pytest.approx(recipe.learning_rate)
    # 1,500 steps of two batches a pass in 60 epochs: 13 passes an epoch (ceil(1500 / 120)).
    assert decided.passes_per_epoch == 13
    # A set of at least two of the recipe's batches keeps it; an explicit batch is kept and
    # scales the rate linearly.
    eighty = (np.zeros((80, 8, 8, 1), "uint8"), np.repeat(np.arange(4), 20))
    assert plan("lenet5", eighty, recipe=recipe, input_shape=(16, 16, 1)).batch_size == 32
    chosen = plan("lenet5", fifteen, recipe=recipe, batch_size=4, input_shape=(16, 16, 1))
    assert chosen.batch_size == 4
    assert chosen.phases[0].learning_rate == pytest.approx(recipe.learning_rate * 4 / 32)
    with pytest.raises(ValueError, match="min_batches.*Received: min_batches=-1"):
        recipe.replace(min_batches=-1)
