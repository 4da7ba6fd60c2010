"""Whether a run compiles its training step with XLA (`jit_compile="auto"`), decided by measurement.

On CPUs the answer depends on which kernels TensorFlow runs. XLA's CPU backend generates its own
convolution code; it beats TensorFlow's Eigen kernels on small networks, whose steps are dominated
by per-op overhead, but not oneDNN's kernels, which kerascnn turns on (`TF_ENABLE_ONEDNN_OPTS=1`,
see kerascnn/__init__.py). Measured with `fit` on a 2-core AVX2 CPU (TensorFlow 2.21, Keras 3.15.1,
batch 32, synthetic data, medians of 3 alternating runs), images per second without -> with XLA:

                                          oneDNN on (default)      oneDNN off (Eigen)
    LeNet-5 (32x32x1, 0.4 M MACs)         4,423 -> 3,570 (-19%)    3,692 -> 4,745 (+29%)
    ResNet-20 (32x32x3, 41 M MACs)          309 ->   156 (-50%)      156 ->   248 (+59%)

and for ResNet-50 (112x112, batch 16, Keras's train function) 13.5 -> 11.6 img/s (-14%) with
oneDNN, 8.5 -> 10.0 (+18%) without (`python tools/bench_torch.py --variants plain,xla`, under
`TF_ENABLE_ONEDNN_OPTS=1` and `=0`). The best CPU setting measured for each is oneDNN without XLA,
except LeNet-5, where Eigen with XLA was 7% faster than oneDNN without it.

Reproduce with `python -m kerascnn.training.xla lenet5 resnet20` (prefix `TF_ENABLE_ONEDNN_OPTS=0`
for the Eigen column). Compiling costs CPU time up front: about 16 s of CPU time for LeNet-5's
training and validation functions (each batch shape, including a last partial batch, compiles
anew), measured as the difference in `time.process_time()` of a 2-epoch
`kerascnn.train("lenet5", "digits", input_shape=(16, 16, 1), epochs=2, batch_size=64)` with
`jit_compile=True` (22.5 s) and `False` (6.5 s); at a few milliseconds saved per step that takes
thousands of steps to win back.

So on CPUs "auto" leaves XLA off while oneDNN is on; with Eigen kernels it turns XLA on for the
families in `EIGEN_CPU_XLA_FAMILIES`, where it was measured to pay off, and only for runs of at
least `MIN_XLA_STEPS` optimizer steps (compiling a large graph such as GoogLeNet also takes many
minutes on a small CPU). On GPUs "auto" is Keras's own default (XLA on); under a multi-replica
strategy it is off, as in Keras (`Trainer._resolve_auto_jit_compile`).
"""

from __future__ import annotations

import os
import sys

import keras
import tensorflow as tf

__all__ = ["EIGEN_CPU_XLA_FAMILIES", "MIN_XLA_STEPS", "onednn_enabled", "resolve_jit_compile",
           "measure"]

# Families whose training step is faster with XLA on CPUs running Eigen kernels (LeNet-5 +29%,
# ResNet-20 +59%); the perceptron and MLP are smaller still.
EIGEN_CPU_XLA_FAMILIES = frozenset({"lenet", "perceptron", "mlp", "resnet_cifar"})
MIN_XLA_STEPS = 10_000  # Shorter runs do not win back the compile time (see above).


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (fixed when it loaded)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # Not a public module; fall back on the setting TensorFlow reads.
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "") in ("1", "true", "True")
    return bool(_pywrap_util_port.IsMklEnabled())


def resolve_jit_compile(jit_compile, model: keras.Model, strategy,
                        family: str | None = None, steps: int | None = None) -> bool:
    """Resolves `jit_compile` ("auto", True or False) for `model` trained under `strategy`.

    Args:
        jit_compile: "auto", True or False.
        model: The model (XLA stays off when one of its layers does not support it).
        strategy: The run's `tf.distribute` strategy.
        family: The model's registry family, or None for a model from elsewhere.
        steps: The run's optimizer steps (epochs x steps per epoch), or None if unknown.

    Raises:
        ValueError: For a value other than "auto", True or False.
    """
    if jit_compile not in ("auto", True, False):
        raise ValueError(f"jit_compile must be 'auto', True or False. "
                         f"Received: jit_compile={jit_compile!r}")
    from keras.src.trainers.trainer import model_supports_jit

    if isinstance(jit_compile, bool):
        return bool(jit_compile) and model_supports_jit(model)
    if strategy.num_replicas_in_sync > 1 or not model_supports_jit(model):
        return False
    if tf.config.list_physical_devices("GPU"):
        return True
    if onednn_enabled():
        return False
    long_enough = steps is None or steps >= MIN_XLA_STEPS
    return family in EIGEN_CPU_XLA_FAMILIES and long_enough


def measure(name: str, batch_size: int = 32, steps: int = 100, repeats: int = 3) -> dict:
    """Training images per second of `fit` for a registered model, without and with XLA
    (`kerascnn.training.throughput.fit_rates`)."""
    from kerascnn.training.throughput import fit_rates

    rates = fit_rates(name, {"no_xla": {"jit_compile": False}, "xla": {"jit_compile": True}},
                      batch_size, steps, repeats)
    return {"model": name, **rates}


if __name__ == "__main__":
    for model_name in sys.argv[1:] or ["lenet5"]:
        result = measure(model_name)
        print(f"{model_name}: {result['no_xla']:.1f} -> {result['xla']:.1f} img/s "
              f"({result['xla'] / result['no_xla'] - 1:+.0%} with XLA)")
