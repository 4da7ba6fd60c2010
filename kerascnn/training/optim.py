"""A recipe's optimizer, learning-rate schedule and weight decay, as Keras objects.

Schedules are built-in Keras `LearningRateSchedule`s of the optimizer's step counter, so they are
saved with checkpoints and continue where a resumed run left off; "plateau" is a
`ReduceLROnPlateau` callback instead, because it depends on the validation accuracy.
"""

from __future__ import annotations

import keras

from kerascnn.training.recipes import Recipe

__all__ = ["scaled_learning_rate", "make_schedule", "make_optimizer", "plateau_callback",
           "apply_weight_decay", "current_learning_rate"]


def scaled_learning_rate(recipe: Recipe, global_batch_size: int) -> float:
    """The recipe's rate scaled linearly to `global_batch_size` (Goyal et al. 2017)."""
    return recipe.learning_rate * global_batch_size / recipe.batch_size


def make_schedule(recipe: Recipe, learning_rate: float, epochs: int, steps_per_epoch: int):
    """Returns a float or a `keras.optimizers.schedules.LearningRateSchedule` for the recipe.

    Args:
        recipe: The recipe (its schedule kind, milestones, factors, gamma).
        learning_rate: The initial rate (already scaled to the batch size).
        epochs: The run's length in epochs: cosine and linear decay end there, and "step"
            milestones move in proportion when it differs from the recipe's.
        steps_per_epoch: Optimizer steps per epoch, to turn epochs into steps.
    """
    schedules = keras.optimizers.schedules
    steps = max(1, int(steps_per_epoch))
    if recipe.schedule in ("constant", "plateau"):
        return float(learning_rate)
    if recipe.schedule == "step":
        # A run shorter or longer than the paper's keeps the schedule's shape.
        stretch = epochs / recipe.epochs
        boundaries = [max(1, round(m * stretch * steps)) for m in recipe.milestones]
        factors = recipe.factors or tuple(recipe.gamma ** (i + 1) for i in range(len(boundaries)))
        values = [float(learning_rate)] + [float(learning_rate * f) for f in factors]
        return schedules.PiecewiseConstantDecay(boundaries, values) if boundaries else values[0]
    if recipe.schedule == "exponential":
        return schedules.ExponentialDecay(
            learning_rate, decay_steps=recipe.decay_every * steps, decay_rate=recipe.gamma,
            staircase=True,
        )
    if recipe.schedule == "cosine":
        return schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * steps))
    if recipe.schedule == "linear":
        return schedules.PolynomialDecay(
            learning_rate, decay_steps=max(1, epochs * steps), end_learning_rate=0.0, power=1.0
        )
    raise ValueError(f"Unknown schedule. Received: schedule={recipe.schedule!r}")


def make_optimizer(recipe: Recipe, schedule) -> keras.optimizers.Optimizer:
    """The recipe's optimizer with `schedule` as its learning rate."""
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov)
    if recipe.optimizer == "rmsprop":
        # MobileNetV2: "RMSPropOptimizer with decay and momentum both set to 0.9".
        return keras.optimizers.RMSprop(schedule, rho=0.9, momentum=recipe.momentum)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(schedule)
    raise ValueError(f"Unknown optimizer. Received: optimizer={recipe.optimizer!r}")


def plateau_callback(recipe: Recipe, learning_rate: float, monitor: str):
    """`ReduceLROnPlateau` for a "plateau" recipe (None for the other schedules)."""
    if recipe.schedule != "plateau":
        return None
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor,
        mode="max" if "accuracy" in monitor else "min",
        factor=recipe.gamma,
        patience=recipe.patience,
        min_lr=learning_rate * recipe.gamma ** recipe.max_reductions * 0.999,
        verbose=1,
    )


def apply_weight_decay(model: keras.Model, weight_decay: float) -> int:
    """Adds the L2 penalty `weight_decay / 2 * ||w||^2` (gradient `weight_decay * w`) to every
    trainable weight without a regularizer of its own; returns how many weights it covers.

    The penalty is attached to the variables, not to the layers' configs, so saved models are
    unchanged.
    """
    if not weight_decay:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2.0)
    covered = 0
    for variable in model.trainable_weights:
        if getattr(variable, "regularizer", None) is None:
            variable.regularizer = regularizer
            covered += 1
    return covered


def current_learning_rate(optimizer) -> float:
    """The optimizer's learning rate at its current step."""
    rate = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(rate))
