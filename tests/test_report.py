"""The run report on a tiny real run: a small CNN trained one epoch on scikit-learn's digits."""

import configparser
import importlib
import json
import os
import re

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn.cli import main
from kerascnn.training.report import confusion_matrix, filter_mosaic, read_history

# The module, not the `report` function that kerascnn.training exports under the same name.
report_module = importlib.import_module("kerascnn.training.report")

CLASS_NAMES = [f"digit_{d}" for d in range(10)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """history.csv from CSVLogger, best/last checkpoints and a config JSON, as a run leaves them."""
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(0)
    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype("float32")
    y = digits.target.astype("int32")
    x_train, y_train, x_val, y_val = x[:1500], y[:1500], x[1500:], y[1500:]
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1_conv")(inputs)
    h = keras.layers.Flatten(name="head_flatten")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("run")
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=2, batch_size=64, verbose=0,
              # The scheduler adds `learning_rate` to the logs, so it must run before CSVLogger.
              callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr),
                         keras.callbacks.CSVLogger(str(path / "history.csv"))])
    model.save(path / "best.keras")
    model.save(path / "last.keras")
    (path / "config.json").write_text(json.dumps({"data": {"name": "digits",
                                                           "class_names": CLASS_NAMES}}))
    return path, (x_val, y_val), model


@pytest.fixture(scope="module")
def written(run_dir):
    path, validation, _ = run_dir
    return kerascnn.report(str(path), data=validation, num_worst=8)


def test_files_exist_and_the_page_shows_them(written):
    assert set(written.figures) == {"learning_curves", "confusion_matrix", "worst_examples",
                                    "conv1_filters"}
    page = open(written.html).read()
    for figure in written.figures.values():
        assert os.path.getsize(figure) > 1000
        with open(figure, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
        assert f'src="{os.path.basename(figure)}"' in page


def test_confusion_matrix_counts_every_validation_example(run_dir, written):
    _, (x_val, y_val), model = run_dir
    # 1,797 digits in scikit-learn's load_digits, the first 1,500 used for training.
    assert written.confusion.shape == (10, 10)
    assert written.confusion.sum() == len(y_val) == 297
    assert written.class_names == CLASS_NAMES
    # The diagonal is exactly the examples the model gets right.
    correct = (model.predict(x_val, verbose=0).argmax(-1) == y_val).sum()
    assert np.trace(written.confusion) == correct
    csv_rows = open(os.path.join(os.path.dirname(written.html), "confusion_matrix.csv")).read()
    assert csv_rows.splitlines()[0].split(",")[1:] == CLASS_NAMES


def test_worst_examples_are_the_least_confident_in_the_true_class(run_dir, written):
    _, (x_val, y_val), model = run_dir
    probs = model.predict(x_val, verbose=0)
    true_prob = np.sort(probs[np.arange(len(y_val)), y_val])[:8]
    np.testing.assert_allclose([w["true_probability"] for w in written.worst], true_prob, rtol=1e-5)


def test_confusion_matrix_by_hand():
    counts = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_filter_mosaic_has_one_tile_per_filter():
    # AlexNet's conv1 shape (11x11x3, 96 filters; Krizhevsky et al. 2012, Figure 3 and Section 3.5).
    kernel = np.random.default_rng(0).normal(size=(11, 11, 3, 96))
    mosaic = filter_mosaic(kernel, columns=12)
    assert mosaic.shape == (8 * 12 + 1, 12 * 12 + 1, 3)
    for index in range(96):
        top, left = 1 + (index // 12) * 12, 1 + (index % 12) * 12
        tile = kernel[..., index]
        expected = (tile - tile.min()) / (tile.max() - tile.min())
        np.testing.assert_allclose(mosaic[top:top + 11, left:left + 11], expected)


def test_filter_mosaic_leaves_unused_cells_blank_and_greys_out_other_channel_counts():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 6, 5))
    mosaic = filter_mosaic(kernel)  # ceil(sqrt(5)) = 3 columns, 2 rows, one empty cell.
    assert mosaic.shape == (2 * 4 + 1, 3 * 4 + 1, 3)
    np.testing.assert_array_equal(mosaic[5:8, 9:12], 1.0)
    first = mosaic[1:4, 1:4]
    np.testing.assert_array_equal(first[..., 0], first[..., 2])


def test_conv1_tiles_match_the_checkpoint(run_dir, written):
    _, _, model = run_dir
    kernel = np.asarray(model.get_layer("conv1_conv").kernel)
    assert kernel.shape == (3, 3, 1, 8)
    mosaic = filter_mosaic(kernel)
    tiles = [mosaic[1 + r * 4:4 + r * 4, 1 + c * 4:4 + c * 4] for r in range(3) for c in range(3)]
    # Eight filters on a 3x3 grid: tile i is filter i scaled to [0, 1]; the ninth stays blank.
    for tile, index in zip(tiles, range(8)):
        single = kernel[..., 0, index]
        np.testing.assert_allclose(tile[..., 1], (single - single.min()) / np.ptp(single), atol=1e-6)
    np.testing.assert_array_equal(tiles[8], 1.0)
    assert os.path.getsize(written.figures["conv1_filters"]) > 1000


def test_history_reads_the_csvlogger_columns(run_dir):
    path, _, _ = run_dir
    history = read_history(str(path / "history.csv"))
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history)
    np.testing.assert_array_equal(history["epoch"], [0, 1])


def test_missing_run_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("Received: run_dir=")):
        kerascnn.report(str(tmp_path / "nope"))


def test_learning_rate_decayed_to_zero_is_drawn_on_a_linear_scale(tmp_path):
    from kerascnn.training.report_figures import plot_learning_curves

    epochs = np.arange(4.0)
    step = {"epoch": epochs, "loss": np.ones(4), "learning_rate": np.array([0.1, 0.1, 0.01, 0.01])}
    cosine = {**step, "learning_rate": np.array([1e-3, 5e-4, 1e-4, 0.0])}  # ends at exactly 0
    step_axes = plot_learning_curves(step, str(tmp_path / "step.png")).axes[2]
    cosine_axes = plot_learning_curves(cosine, str(tmp_path / "cosine.png")).axes[2]
    assert step_axes.get_yscale() == "log" and cosine_axes.get_yscale() == "linear"
    np.testing.assert_array_equal(cosine_axes.lines[0].get_ydata(), cosine["learning_rate"])


def test_matplotlib_is_a_regular_dependency():
    # The report is written by every run, so its one drawing library installs with the package.
    setup = configparser.ConfigParser()
    setup.read(os.path.join(os.path.dirname(__file__), "..", "setup.cfg"))
    required = setup["options"]["install_requires"].split()
    assert any(line.startswith("matplotlib>=") for line in required)


def test_fine_tuning_history_json_gives_learning_curves(run_dir, tmp_path):
    path, validation, _ = run_dir
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / "model.keras").write_bytes((path / "best.keras").read_bytes())
    # fine_tune's history.json: the head phase, then the fine-tuning phase.
    (tuned / "history.json").write_text(json.dumps({
        "head": {"loss": [2.0, 1.5], "accuracy": [0.3, 0.5]},
        "fine_tune": {"loss": [1.0], "accuracy": [0.7], "val_accuracy": [0.6]}}))
    written = kerascnn.report(str(tuned), data=validation)
    assert "learning_curves" in written.figures
    history = report_module._run_history(str(tuned))
    np.testing.assert_array_equal(history["epoch"], [0, 1, 2])
    np.testing.assert_array_equal(history["loss"], [2.0, 1.5, 1.0])
    np.testing.assert_array_equal(history["val_accuracy"][2:], [0.6])
    assert np.isnan(history["val_accuracy"][:2]).all()


def test_command_line_writes_the_report(run_dir, tmp_path, capsys):
    path, _, _ = run_dir
    out = tmp_path / "cli_report"
    assert main(["report", str(path), "--output-dir", str(out)]) == 0
    # The config names "digits", so the command reloads its validation split through kerascnn.data.
    for name in ("learning_curves", "confusion_matrix", "worst_examples", "conv1_filters"):
        assert (out / f"{name}.png").exists()
    assert str(out / "report.html") in capsys.readouterr().out
    header, *rows = (out / "confusion_matrix.csv").read_text().splitlines()
    # Every example of the validation split kerascnn.data holds out (10% of 1,797, stratified).
    held_out = kerascnn.data.load("digits", input_shape=(8, 8, 1), verbose=0).validation_examples
    assert 170 <= held_out <= 190
    assert sum(int(v) for row in rows for v in row.split(",")[1:]) == held_out


def test_in_memory_data_that_cannot_be_reloaded_is_a_note(run_dir, tmp_path):
    path, _, _ = run_dir
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("history.csv", "best.keras"):
        (bare / name).write_bytes((path / name).read_bytes())
    (bare / "config.json").write_text(json.dumps({"data": "<numpy arrays>"}))
    written = kerascnn.report(str(bare))
    assert set(written.figures) == {"learning_curves", "conv1_filters"}
    assert written.confusion is None and "No validation data" in written.notes[0]


def test_command_line_error_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip().startswith("kerascnn: error: run_dir must be")
