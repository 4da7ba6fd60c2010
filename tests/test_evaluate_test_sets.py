"""What `kerascnn.evaluate` scores: a separate test folder whole, the run's own data on its
hold-out; and the run report every run writes, named on the command line's last line."""

import contextlib
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn.cli import main
from kerascnn.data import load

CLASSES = ("circle", "square", "triangle")
TEST_PER_CLASS = 7  # 21 test images: no 10% share of them is a whole number.


def _write_folder(root, per_class: int, seed: int, fmt: str) -> int:
    """Class sub-folders of 16x16 images, brighter by class; returns how many were written."""
    rng = np.random.default_rng(seed)
    for index, name in enumerate(CLASSES):
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (16, 16, 3)).astype(np.uint8) + 90 * index
            encoded = tf.io.encode_png(pixels) if fmt == "png" else tf.io.encode_jpeg(pixels)
            tf.io.write_file(str(root / name / f"{i}.{fmt}"), encoded)
    return per_class * len(CLASSES)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A LeNet-5 trained one epoch by `kerascnn train` on a folder, with a separate test folder."""
    root = tmp_path_factory.mktemp("shapes")
    _write_folder(root / "train", 20, seed=0, fmt="png")
    test_count = _write_folder(root / "test", TEST_PER_CLASS, seed=1, fmt="jpg")
    run_dir = root / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["train", "lenet5", "--data", str(root / "train"), "--input-shape",
                       "16,16,1", "--epochs", "1", "--batch-size", "8", "--augmentation", "none",
                       "--run-dir", str(run_dir), "--verbose", "0",
                       # 20 images per class: the default holds nothing out of so few.
                       "--validation-split", "0.1"])
    assert status == 0
    with open(run_dir / "config.json") as handle:
        config = json.load(handle)
    return {"root": root, "run_dir": str(run_dir), "stdout": out.getvalue(), "config": config,
            "test_count": test_count}


def test_train_writes_the_report_and_the_command_line_names_it_last(trained):
    page = os.path.join(trained["run_dir"], "report", "report.html")
    assert os.path.isfile(page)  # train's default arguments write the report.
    for figure in ("learning_curves", "confusion_matrix", "worst_examples", "conv1_filters"):
        assert os.path.isfile(os.path.join(trained["run_dir"], "report", f"{figure}.png"))
    assert trained["stdout"].strip().splitlines()[-1] == f"kerascnn: run report {page}"


def test_a_run_that_held_nothing_out_reports_on_its_training_images(tmp_path):
    _write_folder(tmp_path / "train", 5, seed=2, fmt="png")
    run_dir = str(tmp_path / "run")
    result = kerascnn.train("lenet5", str(tmp_path / "train"), input_shape=(16, 16, 1), epochs=1,
                            batch_size=8, augmentation=None, recipe="paper", run_dir=run_dir,
                            verbose=0)
    assert result.config["validation_examples"] == 0  # The default, from 5 images per class.
    page = open(os.path.join(run_dir, "report", "report.html")).read()
    assert "<h2>Confusion matrix (training images)</h2>" in page
    assert "<h2>Worst-classified training images</h2>" in page
    assert "<th>training examples</th><td>15</td>" in page
    assert "the training images (unaugmented)" in page
    # Read again from the run directory alone, as `kerascnn report RUN` does.
    again = kerascnn.report(run_dir, output_dir=str(tmp_path / "again"))
    assert again.scored_on == "training" and "training images" in again.notes[-1]
    np.testing.assert_array_equal(again.confusion.sum(axis=1), [5, 5, 5])  # Each image once.
    # In-memory data, which the run holds but its directory does not.
    images = np.stack([np.full((16, 16, 1), 60 * c, "uint8") for c in range(3) for _ in range(4)])
    kerascnn.train("lenet5", (images, np.repeat(np.arange(3), 4)), input_shape=(16, 16, 1),
                   epochs=1, batch_size=8, recipe="paper", run_dir=str(tmp_path / "arrays"),
                   verbose=0)
    page = open(os.path.join(tmp_path, "arrays", "report", "report.html")).read()
    assert "<th>training examples</th><td>12</td>" in page
    assert "the training images (unaugmented)" in page


def test_a_prepared_bundle_that_held_nothing_out_is_judged_as_its_pipeline_yields(tmp_path):
    images = np.stack([np.full((16, 16, 1), 60 * c, "uint8") for c in range(3) for _ in range(4)])
    bundle = load((images, np.repeat(np.arange(3), 4)), input_shape=(16, 16, 1), batch_size=8,
                  validation_split=0.0, augmentation="flip")
    run_dir = str(tmp_path / "bundle")
    kerascnn.train("lenet5", bundle, input_shape=(16, 16, 1), epochs=1, batch_size=8,
                   recipe="paper", run_dir=run_dir, verbose=0)
    page = open(os.path.join(run_dir, "report", "report.html")).read()
    assert "<h2>Confusion matrix (training images)</h2>" in page
    # Its training pipeline flips them: the report says which images it judged, not "unaugmented".
    assert "the given DataBundle&#x27;s training batches, as its pipeline yields them" in page
    assert "unaugmented" not in page


def test_a_separate_test_folder_is_scored_whole(trained):
    scores = kerascnn.evaluate(trained["run_dir"], str(trained["root"] / "test"), verbose=0)
    files = sum(len(files) for _, _, files in os.walk(trained["root"] / "test"))
    assert scores["examples"] == files == trained["test_count"]
    assert scores["scored"] == "whole folder"


def test_the_runs_own_folder_is_scored_on_its_hold_out(trained, monkeypatch):
    held_out = trained["config"]["validation_examples"]
    assert 0 < held_out < trained["config"]["train_examples"]
    scores = kerascnn.evaluate(trained["run_dir"], str(trained["root"] / "train"), verbose=0)
    share = trained["config"]["data"]["validation_split"]
    assert scores["examples"] == held_out
    assert scores["scored"] == f"the run's {share:.0%} hold-out"
    # The same folder named from elsewhere, by another relative path, is still the run's own.
    monkeypatch.chdir(trained["root"] / "test")
    again = kerascnn.evaluate(trained["run_dir"], os.path.join("..", "train"), verbose=0)
    assert again["examples"] == held_out and again["top1"] == scores["top1"]


def test_an_explicit_validation_split_or_split_wins(trained):
    test_dir = str(trained["root"] / "test")
    scores = kerascnn.evaluate(trained["run_dir"], test_dir, validation_split=0.5, verbose=0)
    expected = load(test_dir, input_shape=(16, 16, 1), validation_split=0.5,
                    verbose=0).validation_examples
    assert scores["examples"] == expected < trained["test_count"]
    assert scores["scored"] == "a 50% hold-out (seed 0)"
    # A folder of split sub-folders: `split` names the one to score.
    scores = kerascnn.evaluate(trained["run_dir"], str(trained["root"]), split="test", verbose=0)
    assert scores["examples"] == trained["test_count"] and scores["scored"] == "split 'test'"


def test_command_line_evaluate_says_how_many_and_which_part(trained, capsys):
    test_dir = str(trained["root"] / "test")
    assert main(["evaluate", trained["run_dir"], "--data", test_dir, "--verbose", "0"]) == 0
    assert f"({trained['test_count']} images, whole folder, center crop)" in capsys.readouterr().out
    assert main(["evaluate", trained["run_dir"], "--data", str(trained["root"] / "train"),
                 "--verbose", "0"]) == 0
    held_out = trained["config"]["validation_examples"]
    assert f"({held_out} images, the run's " in capsys.readouterr().out


def test_a_model_without_a_run_scores_all_of_the_data():
    model = kerascnn.build("lenet5", input_shape=(16, 16, 1))
    scores = kerascnn.evaluate(model, "digits", batch_size=256, verbose=0)
    # scikit-learn's digits: 1,797 images.
    assert scores["examples"] == 1797 and scores["scored"] == "all of 'digits'"


def test_load_as_a_test_set(tmp_path):
    count = _write_folder(tmp_path / "flat", 4, seed=2, fmt="png")
    bundle = load(str(tmp_path / "flat"), input_shape=(16, 16, 1), test_set=True, verbose=0)
    assert bundle.train is None and bundle.validation_from == "all"
    assert bundle.validation_examples == count
    assert sum(int(labels.shape[0]) for _, labels in bundle.validation) == count
    # A folder of train/ and val/ sub-folders keeps its own validation split.
    _write_folder(tmp_path / "split" / "train", 3, seed=3, fmt="png")
    val_count = _write_folder(tmp_path / "split" / "val", 2, seed=4, fmt="png")
    bundle = load(str(tmp_path / "split"), input_shape=(16, 16, 1), test_set=True, verbose=0)
    assert bundle.train is None and bundle.validation_from == "split"
    assert bundle.validation_examples == val_count
    x, y = np.zeros((10, 8, 8, 1), np.float32), np.arange(10) % 2
    arrays = load((x, y), input_shape=(8, 8, 1), test_set=True, verbose=0)
    assert arrays.validation_examples == 10 and arrays.validation_from == "all"
    held = load((x, y), input_shape=(8, 8, 1), validation_split=0.2, verbose=0)
    assert held.validation_examples == 2 and held.validation_from == "hold-out"


def test_fine_tune_writes_the_report_and_names_its_data(trained):
    run_dir = str(trained["root"] / "tuned")
    kerascnn.fine_tune(kerascnn.load(os.path.join(trained["run_dir"], "best.keras")),
                       str(trained["root"] / "test"), head_epochs=1, epochs=0, batch_size=8,
                       run_dir=run_dir, verbose=0, validation_split=0.3)
    report_dir = os.path.join(run_dir, "report")
    for name in ("report.html", "learning_curves.png", "confusion_matrix.png"):
        assert os.path.isfile(os.path.join(report_dir, name)), name
    # Its own data is scored on what it held out; the training folder, new to it, whole.
    own = kerascnn.evaluate(run_dir, str(trained["root"] / "test"), verbose=0)
    assert own["scored"] == "the run's 30% hold-out" and own["examples"] < trained["test_count"]
    other = kerascnn.evaluate(run_dir, str(trained["root"] / "train"), verbose=0)
    assert other["examples"] == 60 and other["scored"] == "whole folder"
