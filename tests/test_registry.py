import subprocess
import sys

import keras
import numpy as np
import pytest

import kerascnn
from kerascnn import registry


def test_list_models_and_glob():
    names = kerascnn.list_models()
    assert names == sorted(names)
    assert {"perceptron", "single_layer", "mlp", "lenet5", "lenet5_1998"} <= set(names)
    assert kerascnn.list_models("lenet*") == ["lenet5", "lenet5_1998"]
    assert kerascnn.list_models("no_such_*") == []


def test_duplicate_name_is_refused():
    assert "lenet5" in kerascnn.list_models()  # Registers every family first.
    with pytest.raises(ValueError, match="already registered.*name='lenet5'"):
        registry.register_model("lenet5", family="lenet", input_shape=(32, 32, 1))(lambda **k: None)


def test_unknown_name_suggests_closest():
    with pytest.raises(ValueError, match=r"Received: name='lenet'.*Did you mean: .*lenet5"):
        kerascnn.build("lenet")
    with pytest.raises(ValueError, match="Did you mean: mlp"):
        kerascnn.build("mpl")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes must be an integer >= 1. Received: num_classes=0"),
        ({"num_classes": 2.5}, "Received: num_classes=2.5"),
        ({"input_shape": (32, 32)}, r"Received: input_shape=\(32, 32\)"),
        ({"input_shape": (32, -1, 1)}, r"Received: input_shape=\(32, -1, 1\)"),
        ({"include_top": "yes"}, "Received: include_top='yes'"),
        ({"pooling": "mean"}, "pooling must be one of .*Received: pooling='mean'"),
        ({"classifier_activation": "softmaxx"}, "Received: classifier_activation='softmaxx'"),
        ({"weights": "imagenet"}, "Received: weights='imagenet'"),
        ({"weights": "/nonexistent/w.weights.h5"}, "does not exist. Received: weights="),
    ],
)
def test_common_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerascnn.build("lenet5", **kwargs)


def test_minimum_input_size_is_computed_and_enforced():
    # conv5 -> pool2 -> conv5 -> pool2 needs (((n - 4) // 2) - 4) // 2 >= 1, i.e. n >= 16.
    assert kerascnn.minimum_input_size("lenet5") == (16, 16)
    # The paper's C5 is a 5x5 convolution over S4, so the paper's network needs its 32x32 input.
    assert kerascnn.minimum_input_size("lenet5_1998") == (32, 32)
    model = kerascnn.build("lenet5", input_shape=(16, 16, 1))
    assert model.output_shape == (None, 10)
    with pytest.raises(ValueError, match=r"at least 16x16 pixels. Received: input_shape=\(15, 16, 1\)"):
        kerascnn.build("lenet5", input_shape=(15, 16, 1))


def test_include_top_false_and_pooling():
    features = kerascnn.build("lenet5", include_top=False)
    assert features.output_shape == (None, 5, 5, 16)
    assert kerascnn.build("lenet5", include_top=False, pooling="avg").output_shape == (None, 16)


def test_block_groups_are_ordered():
    model = kerascnn.build("lenet5")
    assert kerascnn.group_names(model) == ["input", "conv1", "conv2", "fc3", "fc4", "head"]


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "kerascnn.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_process_reports_one_line_errors():
    unknown = _cli("summary", "lenett5")
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr
    error_lines = [l for l in unknown.stderr.splitlines() if l.startswith("kerascnn: error:")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith(
        "kerascnn: error: Unknown model name. Received: name='lenett5'. "
        "Did you mean: lenet5, lenet5_1998"
    )


def _main(capsys, *args):
    # The console script's own entry point, in this process: a new interpreter per case would
    # spend most of its time importing TensorFlow.
    from kerascnn.cli import main

    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_list(capsys):
    status, out, _ = _main(capsys, "list", "lenet*")
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == ["lenet5", "lenet5_1998"]
    status, _, err = _main(capsys, "list", "nothing_like_this*")
    assert status == 2 and err.startswith("kerascnn: error: No registered model matches")


@pytest.mark.parametrize(
    "args, message",
    [
        (("summary", "lenet5", "--input-shape", "8,8,1"), "at least 16x16 pixels"),
        (("summary", "lenet5", "--num-classes", "0"), "Received: num_classes=0"),
    ],
)
def test_cli_bad_arguments(capsys, args, message):
    status, _, err = _main(capsys, *args)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("kerascnn: error:") and message in err


def test_cli_summary_prints_table(capsys):
    status, out, _ = _main(capsys, "summary", "lenet5_1998")
    assert status == 0
    assert "c3_conv (PartialConv2D)" in out
    assert "60,000" in out


def test_model_name_can_be_chosen():
    model = kerascnn.build("lenet5", name="digits_lenet")
    assert model.name == "digits_lenet"


def test_seeded_builds_do_not_depend_on_the_minimum_size_cache():
    # The minimum-size probe builds layers, whose initializers draw seeds from Python's generator.
    registry._MINIMUM_SIZE_CACHE.clear()
    weights = []
    for _ in range(2):  # cold cache (the probe runs), then warm
        keras.utils.set_random_seed(0)
        weights.append(kerascnn.build("resnet20", input_shape=(16, 16, 3)).get_weights())
    for cold, warm in zip(*weights):
        np.testing.assert_array_equal(cold, warm)
