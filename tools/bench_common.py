"""Shared pieces of the benchmarks in tools/: threads, synthetic batches, timed training steps,
medians of alternating runs, the printed table and the JSON file.

Every benchmark times steps on synthetic data after warm-up steps (tracing and graph optimisation
happen there), repeats each measurement `repeats` times alternating between the contenders, and
reports the median. Absolute numbers on a shared machine are noisy; the ratios taken side by side
in one process are what the benchmarks are for.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# kerascnn's default (kerascnn/__init__.py); set here too because the benchmarks import TensorFlow
# before kerascnn. Every contender in a process shares it: `TF_ENABLE_ONEDNN_OPTS=0` to compare.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# PyTorch's OpenMP threads spin at every barrier by default; on a machine with more runnable
# threads than cores (shared, or TensorFlow's pool beside it) a descheduled spinner stalls every
# operator, and PyTorch ran 8-10x slower here than with passive waiting. Set it before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The repository root, so the scripts run from a checkout without installing it.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parser(description: str, *, size: int, batch: int, steps: int) -> argparse.ArgumentParser:
    """The arguments every benchmark shares; `--quick` shrinks them to a smoke run."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smallest sizes: a smoke run")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads per framework")
    p.add_argument("--size", type=int, default=size, help="image height and width")
    p.add_argument("--batch", type=int, default=batch, help="batch size")
    p.add_argument("--steps", type=int, default=steps, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--repeats", type=int, default=3, help="alternating measurements (median)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--jit-compile", action="store_true", help="compile Keras steps with XLA")
    p.add_argument("--steps-per-execution", type=int, default=1,
                   help="Keras steps per compiled call (a call then counts that many steps)")
    return p


def configure_threads(threads: int) -> None:
    """Pins TensorFlow (and PyTorch, when present) to `threads` intra-op threads.

    Must run before TensorFlow executes its first op.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def machine() -> dict:
    """What the numbers were measured on."""
    import keras
    import tensorflow as tf

    info = {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(default)"),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "load_average": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
        info["avx512"] = "avx512f" in flags
        info["avx2"] = "avx2" in flags
    except OSError:
        pass
    return info


def synthetic_batch(batch: int, shape: tuple, num_classes: int, seed: int = 0):
    """Normal images and uniform integer labels, as numpy arrays."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, num_classes, size=(batch,)).astype("int32")
    return x, y


def keras_step(model, x, y, args=None, *, jit_compile=None, steps_per_execution=None,
               learning_rate: float = 0.01) -> Callable[[], None]:
    """Compiles `model` with SGD (momentum 0.9) on logits and returns a training-step function.

    The step runs Keras's own compiled train function (what `fit` runs) on tensors already in
    memory, so the timing holds no input conversion. One call runs `steps_per_execution` steps
    (the function's `steps` attribute); `jit_compile` and `steps_per_execution` default to
    `args.jit_compile` and `args.steps_per_execution`.
    """
    import keras
    import tensorflow as tf

    if jit_compile is None:
        jit_compile = bool(getattr(args, "jit_compile", False))
    if steps_per_execution is None:
        steps_per_execution = getattr(args, "steps_per_execution", 1)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    x, y = tf.constant(x), tf.constant(y)
    if steps_per_execution == 1:
        def step():
            model.train_on_batch(x, y)
    else:
        iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
        model.make_train_function()

        def step():
            logs = model.train_function(iterator)
            float(logs["loss"])  # waits for the steps to finish
    step.steps = steps_per_execution
    return step


def json_child(command: list[str], env: dict | None = None) -> dict:
    """Runs a child process that prints one JSON object as its last line: that object, or
    {"error": its exit status, "stderr": the end of its error output} when it fails."""
    done = subprocess.run(command, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env})
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": done.returncode, "stderr": done.stderr[-3000:]}
    return json.loads(lines[-1])


def time_steps(step: Callable[[], None], calls: int) -> float:
    """Seconds per call of `step`, over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


def images_per_second(step: Callable[[], None], batch: int, calls: int) -> float:
    """Training images per second of a step function (of Keras, PyTorch ...) on `batch` images."""
    return batch * getattr(step, "steps", 1) / time_steps(step, calls)


# Every sample `alternate` took, by contender, for the JSON files (the spread shows the noise).
SAMPLES: dict[str, list[float]] = {}


def alternate(contenders: dict[str, Callable[[], float]], repeats: int, tag: str = "") -> dict[str, float]:
    """Runs each measurement `repeats` times, round-robin, and returns each one's median.

    Odd rounds run in reverse order (A B, B A, A B ...), so a drift in the machine's load
    during the run does not favour whoever goes first.
    """
    samples = {name: [] for name in contenders}
    for round_ in range(repeats):
        order = list(contenders.items())
        for name, measure in (order[::-1] if round_ % 2 else order):
            samples[name].append(measure())
    for name, values in samples.items():
        SAMPLES.setdefault(f"{tag}{name}", []).extend(values)
    return {name: statistics.median(values) for name, values in samples.items()}


def paired_ratio(numerator: str, denominator: str) -> float:
    """Median over rounds of numerator / denominator, from the samples `alternate` kept.

    Each round times both back to back, so a change in the machine's load between rounds
    cancels out of the per-round ratio (it does not cancel out of a ratio of medians).
    """
    pairs = zip(SAMPLES[numerator], SAMPLES[denominator])
    return statistics.median(a / b for a, b in pairs)


def print_table(title: str, header: tuple, rows: list[tuple]) -> None:
    """A fixed-width table; numbers are formatted by the caller."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in
                        enumerate(zip(row, widths))))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: str | None, benchmark: str, args: argparse.Namespace, results) -> None:
    if not path:
        return
    payload = {"benchmark": benchmark, "arguments": vars(args), "machine": machine(),
               "results": results, "samples": SAMPLES}
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2, default=str)
    print(f"\nwrote {path}")


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else f"missed by {100 * (1 - value / target):.0f}%"
