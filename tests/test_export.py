"""Export for serving and safe loading: versioned SavedModel layout, raw-image signature, atomic
writes, standalone serving (no kerascnn on the path), `saved_model_cli`, and refusing Lambda
layers."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerascnn
from kerascnn import cli
from kerascnn.data.transforms import resize_cover


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """lenet5_1998 (custom layers: trainable subsampling, partial C3, RBF) exported once."""
    keras.utils.set_random_seed(1)
    model = kerascnn.build("lenet5_1998", num_classes=3)
    base = tmp_path_factory.mktemp("exports") / "digits"
    path = kerascnn.export(model, base, class_names=["zero", "one", "two"])
    return model, base, path


def test_versioned_layout_and_metadata(exported):
    model, base, path = exported
    # TensorFlow Serving reads BASE/<integer version>/saved_model.pb.
    assert path == os.path.join(str(base), "1")
    assert sorted(os.listdir(base)) == ["1"]  # No temporary directory left behind.
    files = os.listdir(path)
    assert {"saved_model.pb", "variables", "lenet5_1998.keras", "kerascnn.json"} <= set(files)
    with open(os.path.join(path, "kerascnn.json")) as f:
        meta = json.load(f)
    assert meta["class_names"] == ["zero", "one", "two"]
    assert meta["normalization"] == "unit" and meta["input_shape"] == [32, 32, 1]


def test_reloaded_export_matches_model(exported):
    model, _, path = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    out = serve(images=tf.constant(images))
    expected = model(images.astype("float32") / 255.0, training=False).numpy()
    # Issue 7: reloaded export outputs equal the in-memory model's within 1e-5.
    assert np.max(np.abs(out["probabilities"].numpy() - expected)) <= 1e-5
    order = np.argsort(-expected, axis=1)
    np.testing.assert_array_equal(out["class_ids"].numpy(), order)
    names = np.array([b"zero", b"one", b"two"])
    np.testing.assert_array_equal(out["classes"].numpy(), names[order])
    np.testing.assert_allclose(out["scores"].numpy(), np.sort(expected, axis=1)[:, ::-1], atol=1e-6)


def test_any_size_and_channel_count(exported):
    model, _, path = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    rgba = np.random.default_rng(1).integers(0, 256, (2, 57, 41, 4), dtype=np.uint8)
    out = serve(images=tf.constant(rgba))
    # The data pipeline's evaluation steps: drop alpha, ITU-R 601 luma, cover 32x32 keeping the
    # aspect and center-crop, scale to [0, 1].
    gray = tf.image.rgb_to_grayscale(tf.cast(rgba[..., :3], tf.float32))
    x = tf.stack([resize_cover(image, (32, 32)) for image in gray]) / 255.0
    expected = model(x, training=False).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-4)


def test_never_overwrites_unless_asked(exported, tmp_path):
    model, base, path = exported
    before = sorted(os.listdir(path))
    with pytest.raises(FileExistsError, match="already exists.*overwrite=True"):
        kerascnn.export(model, base)
    assert sorted(os.listdir(path)) == before  # Nothing written was lost.
    small = kerascnn.build("mlp", num_classes=2, hidden_units=(4,))
    target = tmp_path / "m"
    first = kerascnn.export(small, target)
    marker = os.path.join(first, "marker")
    open(marker, "w").close()
    assert kerascnn.export(small, target, overwrite=True) == first
    assert not os.path.exists(marker) and os.path.isfile(os.path.join(first, "saved_model.pb"))
    assert sorted(os.listdir(target)) == ["1"]
    # A path ending in a number is the version directory itself.
    assert kerascnn.export(small, target / "7") == str(target / "7")


def test_failed_export_leaves_nothing(tmp_path):
    model = kerascnn.build("mlp", num_classes=2, hidden_units=(4,))
    with pytest.raises(ValueError, match="class_names"):
        kerascnn.export(model, tmp_path / "bad", class_names=["only-one"])
    with pytest.raises(ValueError, match="normalization"):
        kerascnn.export(model, tmp_path / "bad", normalization="imagenet")
    assert not (tmp_path / "bad" / "1").exists()


def test_default_location_is_saved_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    built = kerascnn.build("mlp", num_classes=2, hidden_units=(4,))
    model = keras.Model(built.input, built.output, name="tiny_mlp")
    path = kerascnn.export(model)
    assert path == os.path.join("saved_models", "tiny_mlp", "1")
    flat = tf.saved_model.load(path).signatures["serving_default"]
    x = np.random.default_rng(2).normal(size=(3, 784)).astype("float32")
    np.testing.assert_allclose(flat(inputs=x)["probabilities"].numpy(), model(x).numpy(), atol=1e-6)


_STANDALONE = r"""
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "kerascnn" not in repr(f)]
sys.modules["kerascnn"] = None  # Any `import kerascnn` now raises ImportError.
try:
    import kerascnn  # noqa: F401
    raise SystemExit("kerascnn must not be importable here")
except ImportError:
    pass
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
np.save(sys.argv[2], serve(images=tf.constant(images))["probabilities"].numpy())
# Then exactly what the `saved_model_cli` console script runs, sparing a second TensorFlow start.
from tensorflow.python.tools.saved_model_cli import main
sys.argv = ["saved_model_cli", "show", "--dir", sys.argv[1], "--tag_set", "serve",
            "--signature_def", "serving_default"]
main()
"""


@pytest.mark.slow
def test_fresh_process_without_kerascnn_serves_export(exported, tmp_path):
    model, _, path = exported
    result = tmp_path / "probabilities.npy"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    shown = subprocess.run(
        [sys.executable, "-I", "-c", _STANDALONE, os.path.abspath(path), str(result)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    expected = model(images.astype("float32") / 255.0, training=False).numpy()
    assert np.max(np.abs(np.load(result) - expected)) <= 1e-5
    # saved_model_cli sees the serving signature: raw uint8 images of any size in, names out.
    out = shown.stdout
    assert "inputs['images']" in out and "DT_UINT8" in out and "(-1, -1, -1, -1)" in out
    for output in ("probabilities", "scores", "classes", "class_ids"):
        assert f"outputs['{output}']" in out


def test_cli_export_and_predict(exported, tmp_path, capsys):
    model, _, _ = exported
    keras_file = tmp_path / "lenet.keras"
    model.save(keras_file)
    out = tmp_path / "served"
    assert cli.main(["export", str(keras_file), "--out", str(out), "--class-names", "a,b,c"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "1")
    image = tmp_path / "digit.png"
    pixels = np.random.default_rng(3).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    tf.io.write_file(str(image), tf.io.encode_png(pixels))
    assert cli.main(["predict", str(out), str(image), "--top-k", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{image}: ") and len(line.split(", ")) == 2
    # Exporting again without --overwrite: one line naming the path, exit status 2.
    assert cli.main(["export", str(keras_file), "--out", str(out)]) == 2
    assert str(out / "1") in capsys.readouterr().err


def test_load_round_trip_and_refuses_lambda(tmp_path):
    model = kerascnn.build("lenet5", num_classes=4)
    x = np.random.default_rng(4).uniform(size=(2, 32, 32, 1)).astype("float32")
    model.save(tmp_path / "lenet.keras")
    np.testing.assert_array_equal(kerascnn.load(tmp_path / "lenet.keras")(x), model(x))

    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"Lambda layer\(s\) double.*safe_mode=False"):
        kerascnn.load(tmp_path / "lambda.keras")
    trusted = kerascnn.load(tmp_path / "lambda.keras", safe_mode=False)
    np.testing.assert_allclose(trusted(np.ones((1, 3), "float32")), [[2.0, 2.0, 2.0]])
    with pytest.raises(FileNotFoundError):
        kerascnn.load(tmp_path / "missing.keras")


def test_logits_get_a_softmax_and_probabilities_do_not(tmp_path):
    logits = kerascnn.build("mlp", num_classes=3, input_shape=(4,), hidden_units=(5,),
                            classifier_activation=None)
    inputs = keras.Input((4,))
    softmaxed = keras.Model(inputs, keras.layers.Softmax()(logits(inputs)))
    x = np.random.default_rng(5).normal(size=(2, 4)).astype("float32")
    expected = tf.nn.softmax(logits(x)).numpy()
    for i, model in enumerate((logits, softmaxed)):
        served = tf.saved_model.load(kerascnn.export(model, tmp_path / str(i)))
        out = served.signatures["serving_default"](inputs=x)["probabilities"].numpy()
        np.testing.assert_allclose(out, expected, atol=1e-6)
