"""How many training steps one call of the compiled train function runs (`steps_per_execution`).

Keras runs each call of its train function from Python; with `steps_per_execution=N` one call runs
N steps in a TensorFlow loop, saving the host's per-step dispatch. The steps are the same: weights
after an epoch are bit-identical (tests/test_training.py). It pays only where a step takes
milliseconds. Measured with `fit` on 2 AVX2 cores (TensorFlow 2.21, oneDNN on, batch 32, medians
of 3 alternating runs), LeNet-5 trained at 3,818 img/s with 1 step per call, 4,989 with 8 (+31%)
and 4,893 with 32; ResNet-20 and ResNet-50 steps (0.1-5 s) gained nothing measurable
(0.97-1.04x, tools/README.md).

So "auto" runs `STEPS_PER_CALL` steps per call for the families in `SMALL_STEP_FAMILIES` and one
elsewhere. Callbacks then see every `STEPS_PER_CALL`-th batch; epoch-level callbacks (checkpoints,
CSV history, `BackupAndRestore`) are unaffected. Multi-replica runs keep one step per call, the
setting their synchronisation was tested with.
"""

from __future__ import annotations

from kerascnn import validation

__all__ = ["SMALL_STEP_FAMILIES", "STEPS_PER_CALL", "check_steps_per_execution",
           "resolve_steps_per_execution"]

# Families whose steps take milliseconds on a CPU, where dispatch is a large share of a step.
SMALL_STEP_FAMILIES = frozenset({"lenet", "perceptron", "mlp"})
STEPS_PER_CALL = 8  # +31% for LeNet-5; 32 was no better.


def check_steps_per_execution(steps_per_execution) -> None:
    """Raises ValueError unless the value is "auto" or an integer >= 1."""
    if steps_per_execution == "auto":
        return
    try:
        validation.check_positive_int(steps_per_execution, "steps_per_execution")
    except ValueError:
        raise ValueError(f"steps_per_execution must be 'auto' or an integer >= 1. "
                         f"Received: steps_per_execution={steps_per_execution!r}") from None


def resolve_steps_per_execution(steps_per_execution, strategy, family: str | None) -> int:
    """Resolves `steps_per_execution` ("auto" or an int >= 1) for a run.

    Args:
        steps_per_execution: "auto" or an integer >= 1 (returned unchanged).
        strategy: The run's `tf.distribute` strategy.
        family: The model's registry family, or None for a model from elsewhere.
    """
    check_steps_per_execution(steps_per_execution)
    if steps_per_execution != "auto":
        return steps_per_execution
    if strategy.num_replicas_in_sync > 1:
        return 1
    return STEPS_PER_CALL if family in SMALL_STEP_FAMILIES else 1
