"""Whether a run compiles its training step with XLA (`jit_compile="auto"`), decided by measurement.

On CPUs, XLA's fusion pays off for small networks, whose steps are dominated by per-op overhead,
and costs a little on large ones, whose time goes to big convolutions that oneDNN already runs
well. Measured with `fit` on a 2-core AVX2 CPU (TensorFlow 2.21, Keras 3.15.1, batch 32,
synthetic data), images per second without -> with XLA:

    LeNet-5 (32x32x1, 0.4 M MACs)        4,766 -> 6,650   (+40%)
    ResNet-20 (32x32x3, 41 M MACs)         172 ->   201   (+17%)
    ResNet-50 (224x224x3, 4.1 G MACs)     2.27 ->  2.13   (-6%)

Reproduce with `python -m kerascnn.training.xla lenet5 resnet20 resnet50`. Compiling costs
CPU time up front: about 16 s of CPU time for LeNet-5's training and validation functions (each
batch shape, including a last partial batch, compiles anew), measured as the difference in
`time.process_time()` of a 2-epoch `kerascnn.train("lenet5", "digits", input_shape=(16, 16, 1),
epochs=2, batch_size=64)` with `jit_compile=True` (22.5 s) and `False` (6.5 s). At LeNet-5's 1.9 ms
saved per step that takes thousands of steps to win back.

So on CPUs "auto" turns XLA on only for the families in `CPU_DEFAULTS`, where it was measured to
pay off, and only for runs of at least `MIN_XLA_STEPS` optimizer steps; elsewhere it stays off, also
because compiling a large graph (GoogLeNet) takes many minutes on a small CPU. On GPUs "auto" is
Keras's own default (XLA on); under a multi-replica strategy it is off, as in Keras
(`Trainer._resolve_auto_jit_compile`).
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf

__all__ = ["CPU_DEFAULTS", "MIN_XLA_STEPS", "resolve_jit_compile", "measure"]

# Families whose training step is faster with XLA on CPUs (LeNet-5 +40%, ResNet-20 +17%); the
# perceptron and MLP are smaller still. ResNet-50 (family "resnet") was 6% slower.
CPU_DEFAULTS = {"lenet": True, "perceptron": True, "mlp": True, "resnet_cifar": True,
                "resnet": False}
MIN_XLA_STEPS = 10_000  # Shorter runs do not win back the compile time (see above).


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
    long_enough = steps is None or steps >= MIN_XLA_STEPS
    return CPU_DEFAULTS.get(family, False) and long_enough


def measure(name: str, batch_size: int = 32, steps: int = 100, repeats: int = 3) -> dict:
    """Training images per second of `fit` for a registered model, without and with XLA.

    Runs alternate between the two settings and the median of `repeats` is reported.
    """
    from kerascnn.registry import build

    model = build(name, num_classes=10)
    shape = (batch_size * steps, *model.input_shape[1:])
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 10, len(x))
    rates = {False: [], True: []}
    for _ in range(repeats):
        for jit in (False, True):
            model = build(name, num_classes=10)
            model.compile("sgd", "sparse_categorical_crossentropy", jit_compile=jit)
            model.fit(x[:batch_size * 2], y[:batch_size * 2], batch_size=batch_size, verbose=0)
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            rates[jit].append(len(x) / (time.perf_counter() - start))
    return {"model": name, "no_xla": float(np.median(rates[False])),
            "xla": float(np.median(rates[True]))}


if __name__ == "__main__":
    for model_name in sys.argv[1:] or ["lenet5"]:
        result = measure(model_name)
        print(f"{model_name}: {result['no_xla']:.1f} -> {result['xla']:.1f} img/s "
              f"({result['xla'] / result['no_xla'] - 1:+.0%} with XLA)")
