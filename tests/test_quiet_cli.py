"""The `kerascnn` command keeps TensorFlow's C++ start-up lines off stderr unless asked
(`kerascnn --verbose ...`, KERASCNN_TF_LOGS=1); kerascnn's own output and tracebacks pass."""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

from kerascnn import console

# Lines TensorFlow 2.21 wrote on a 2-core machine without a GPU (`kerascnn train lenet5 --data
# digits` before this filter; process ids and times as they were).
TF_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1795914861.549159   17717 port.cc:153] oneDNN custom operations are on. You may "
    b"see slightly different numerical results due to floating-point round-off errors from "
    b"different computation orders. To turn them off, set the environment variable "
    b"`TF_ENABLE_ONEDNN_OPTS=0`.",
    b"I0000 00:00:1795914861.549879   17717 cudart_stub.cc:31] Could not find cuda drivers on your "
    b"machine, GPU will not be used.",
    b"E0000 00:00:1795914867.165048   17717 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    b"CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    b"I0000 00:00:1795914887.260352   18249 cpu_feature_guard.cc:227] This TensorFlow binary is "
    b"optimized to use available CPU instructions in performance-critical operations.",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    b"with the appropriate compiler flags.",
    # absl after absl::InitializeLog (month, day, time), and TensorFlow's own format before 2.16.
    b"W1129 01:14:10.123456   17717 op_kernel.cc:1857] OP_REQUIRES failed at xla_ops.cc:580",
    b"2024-01-29 12:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] This "
    b"TensorFlow binary is optimized to use available CPU instructions",
]
KEPT_LINES = [
    b"kerascnn: training lenet5 on 1617 images (180 held out), recipe lenet, 1 epochs",
    b"kerascnn: error: Unknown model name. Received: name='nosuch'.",
    b"Traceback (most recent call last):",
    b'  File "/work/main/kerascnn/cli.py", line 127, in main',
    b"KeyboardInterrupt",
    b"WARNING:tensorflow:5 out of the last 5 calls to <function> triggered tf.function retracing.",
    b"/work/main/kerascnn/data/checks.py:133: RuntimeWarning: overflow encountered in cast",
    b"Epoch 1/2",
    b"To enable the following instructions: a line of kerascnn's that no log line precedes",
    # Fatal lines come just before an abort: the one thing worth seeing.
    b"F0000 00:00:1795914867.165048   17717 logging.cc:40] Check failed: ok",
]


def _filtered(chunks) -> bytes:
    """What the filter passes when `chunks` are written into its pipe one by one."""
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    thread = threading.Thread(target=console._filter_stream, args=(read_fd, out_write))
    thread.start()
    for chunk in chunks:
        os.write(write_fd, chunk)
    os.close(write_fd)
    thread.join(10)
    os.close(out_write)
    with os.fdopen(out_read, "rb") as out:
        data = out.read()
    os.close(read_fd)
    return data


def test_filter_drops_cxx_log_lines_and_passes_everything_else():
    tf, kept = TF_LINES, KEPT_LINES
    # cpu_feature_guard's second line (tf[5]) right after its first; kept[8] after a kept line.
    mixed = [tf[0], kept[0], tf[1], tf[2], kept[1], kept[2], tf[3], kept[3], tf[4], tf[5],
             kept[4], tf[6], kept[5], kept[6], tf[7], kept[7], kept[8], kept[9]]
    text = b"\n".join(mixed) + b"\n"
    expected = b"".join(line + b"\n" for line in KEPT_LINES)
    assert _filtered([text]) == expected
    # Written in pieces that split lines anywhere (a pipe hands over what it has).
    assert _filtered([text[i:i + 37] for i in range(0, len(text), 37)]) == expected
    # A line without its newline at exit (a prompt, a progress bar) still shows.
    assert _filtered([TF_LINES[2] + b"\n45/51 [====>..]"]) == b"45/51 [====>..]"
    assert _filtered([b"\r12/51", b" ===\r51/51\n", TF_LINES[3] + b"\n"]) == b"\r12/51 ===\r51/51\n"


def _command() -> list[str]:
    script = shutil.which("kerascnn", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the kerascnn console script is not installed (pip install -e .)")
    return [script]


def _run(args, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("TF_CPP_MIN_LOG_LEVEL", console.ENVIRONMENT_VARIABLE)}
    environment.update(env)
    return subprocess.run(_command() + args, capture_output=True, env=environment, timeout=300)


def _tf_lines(stderr: bytes) -> list[bytes]:
    return [line for line in stderr.splitlines() if not console.keep_line(line)]


def test_console_script_is_the_quiet_entry_point():
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="kerascnn")
    assert entry.value == "kerascnn.console:main"


@pytest.mark.slow
def test_train_on_digits_prints_no_tensorflow_start_up_lines(tmp_path):
    # The quick-start command, one epoch, without the report.
    result = _run(["train", "lenet5", "--data", "digits", "--epochs", "1", "--run-dir",
                   str(tmp_path / "run"), "--no-report", "--verbose", "2"])
    assert result.returncode == 0, result.stderr.decode()
    for text in (b"oneDNN custom operations", b"Could not find cuda drivers", b"cuInit",
                 b"absl::InitializeLog", b"DT_UINT8"):
        assert text not in result.stderr
    assert not re.search(rb"^[IWE]\d{4} ", result.stderr, re.M), result.stderr.decode()
    stdout = result.stdout.decode()
    assert "kerascnn: training lenet5 on 1617 images (180 held out)" in stdout
    assert "kerascnn: run directory" in stdout and "val_accuracy" in stdout


def test_kerascnn_errors_pass_and_tensorflow_lines_come_back_when_asked():
    message = b"kerascnn: error: No registered model matches the pattern. Received: pattern='x*'"
    quiet = _run(["list", "x*"])
    assert quiet.returncode == 2 and quiet.stderr.splitlines()[-1] == message
    assert not _tf_lines(quiet.stderr), quiet.stderr.decode()
    verbose = _run(["--verbose", "list", "x*"])
    assert verbose.returncode == 2 and message in verbose.stderr
    # kerascnn turns TensorFlow's oneDNN kernels on, and TensorFlow says so as it loads.
    assert any(b"oneDNN custom operations are on" in line for line in _tf_lines(verbose.stderr))


def test_tensorflow_lines_are_asked_for_by_flag_or_environment_variable(monkeypatch):
    monkeypatch.delenv(console.ENVIRONMENT_VARIABLE, raising=False)
    assert console._asked_for_logs(["--verbose", "train", "lenet5"])
    assert not console._asked_for_logs(["train", "lenet5", "--verbose", "2"])  # Keras's setting
    for value, asked in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv(console.ENVIRONMENT_VARIABLE, value)
        assert console._asked_for_logs(["list"]) is asked
