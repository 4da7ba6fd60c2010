"""Training images per second of `fit` under several compile settings, measured side by side.

The measurement behind the "auto" decisions of `kerascnn.training.xla` and
`kerascnn.training.execution`: synthetic data, a fresh model per run, one warm-up `fit` (tracing
and graph optimisation happen there), settings alternating A B, B A ... so that a drift in the
machine's load does not favour whichever runs first, and the median of `repeats` runs.
"""

from __future__ import annotations

import statistics
import time

__all__ = ["fit_rates"]


def fit_rates(name: str, settings: dict, batch_size: int = 32, steps: int = 100,
              repeats: int = 3) -> dict:
    """Median training images per second of a registered model for each compile setting.

    Args:
        name: A registered model name (built with 10 classes).
        settings: Label -> keyword arguments of `model.compile` (`jit_compile`,
            `steps_per_execution` ...).
        batch_size: Batch size of `fit`.
        steps: Batches in the timed epoch.
        repeats: Timed runs per setting.

    Returns:
        Label -> images per second.
    """
    import keras
    import numpy as np

    from kerascnn.registry import build

    shape = build(name, num_classes=10).input_shape[1:]
    x = np.random.default_rng(0).random((batch_size * steps, *shape), dtype=np.float32)
    y = np.random.default_rng(1).integers(0, 10, len(x))
    warmup = min(len(x), batch_size * 32)
    rates = {label: [] for label in settings}
    for round_ in range(repeats):
        labels = list(settings) if round_ % 2 == 0 else list(settings)[::-1]
        for label in labels:
            model = build(name, num_classes=10)
            model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                          "sparse_categorical_crossentropy", **settings[label])
            model.fit(x[:warmup], y[:warmup], batch_size=batch_size, verbose=0)
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
            rates[label].append(len(x) / (time.perf_counter() - start))
    return {label: statistics.median(values) for label, values in rates.items()}
