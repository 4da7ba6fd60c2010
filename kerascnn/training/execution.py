"""How many training steps one call of the compiled train function runs (`steps_per_execution`).

Keras runs each call of its train function from Python; with `steps_per_execution=N` one call runs
N steps in a TensorFlow loop, saving the host's per-step dispatch. The steps are the same: weights
after an epoch are bit-identical (tests/test_training.py). It pays only where a step takes
milliseconds. Measured with `fit` on 2 AVX2 cores (TensorFlow 2.21, oneDNN on, batch 32, medians
of 3 alternating runs; `python -m kerascnn.training.execution lenet5`), LeNet-5 in four runs:

    steps per call          1        8       32
    run 1               3,818    4,989    4,893  img/s
    run 2               4,159    5,354    6,094
    run 3               2,422    4,758    5,726  (the 1-step samples were disturbed)
    run 4               4,076    5,538    4,732

8 steps per call beat 1 by 1.29-1.36x; 32 was 0.85-1.14x of 8, within the noise, so 8. ResNet-20
and ResNet-50 steps (0.1-5 s) gained nothing measurable (0.97-1.04x, tools/README.md).

So "auto" runs up to `STEPS_PER_CALL` steps per call for the families in `SMALL_STEP_FAMILIES`
and one elsewhere: the largest number of steps that divides the epoch's, because the training
data is one endless stream (`run.py`) and a call does not stop at an epoch's end. Batch-level
callbacks then see the last batch of each call; epoch-level callbacks (checkpoints, CSV history,
`BackupAndRestore`) are unaffected. Multi-replica runs keep one step per call, the
setting their synchronisation was tested with.
"""

from __future__ import annotations

import sys

from kerascnn import validation

__all__ = ["SMALL_STEP_FAMILIES", "STEPS_PER_CALL", "check_steps_per_execution",
           "resolve_steps_per_execution", "measure"]

# Families whose steps take milliseconds on a CPU, where dispatch is a large share of a step.
SMALL_STEP_FAMILIES = frozenset({"lenet", "perceptron", "mlp"})
STEPS_PER_CALL = 8  # +29-36% for LeNet-5; 32 was no clearer gain.


def check_steps_per_execution(steps_per_execution) -> None:
    """Raises ValueError unless the value is "auto" or an integer >= 1."""
    if steps_per_execution == "auto":
        return
    try:
        validation.check_positive_int(steps_per_execution, "steps_per_execution")
    except ValueError:
        raise ValueError(f"steps_per_execution must be 'auto' or an integer >= 1. "
                         f"Received: steps_per_execution={steps_per_execution!r}") from None


def resolve_steps_per_execution(steps_per_execution, strategy, family: str | None,
                                steps_per_epoch: int = STEPS_PER_CALL) -> int:
    """Resolves `steps_per_execution` ("auto" or an int >= 1) for a run.

    Args:
        steps_per_execution: "auto" or an integer >= 1 (returned unchanged).
        strategy: The run's `tf.distribute` strategy.
        family: The model's registry family, or None for a model from elsewhere.
        steps_per_epoch: The run's optimizer steps per epoch; "auto" divides it.
    """
    check_steps_per_execution(steps_per_execution)
    if steps_per_execution != "auto":
        return steps_per_execution
    if strategy.num_replicas_in_sync > 1 or family not in SMALL_STEP_FAMILIES:
        return 1
    return max(n for n in range(1, STEPS_PER_CALL + 1) if steps_per_epoch % n == 0)


def measure(name: str, settings=(1, 8, 32), batch_size: int = 32, steps: int = 200,
            repeats: int = 3) -> dict:
    """Training images per second of `fit` for a registered model at each steps-per-call setting
    (`kerascnn.training.throughput.fit_rates`)."""
    from kerascnn.training.throughput import fit_rates

    return fit_rates(name, {n: {"steps_per_execution": n} for n in settings}, batch_size, steps,
                     repeats)


if __name__ == "__main__":
    for model_name in sys.argv[1:] or ["lenet5"]:
        result = measure(model_name)
        print(f"{model_name}: " + ", ".join(f"{setting} step(s) per call {rate:,.0f} img/s"
                                            for setting, rate in result.items()))
