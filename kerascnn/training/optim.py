"""A recipe's optimizer, learning-rate schedule and weight decay, as Keras objects.

Schedules are built-in Keras `LearningRateSchedule`s of the optimizer's step counter, so they are
saved with checkpoints and continue where a resumed run left off; "plateau" is a
`ReduceLROnPlateau` callback instead, because it depends on the validation accuracy. A warm-up
(Goyal et al. 2017, section 2.2) is `CosineDecay`'s own for "cosine", `LinearWarmup` around the
other schedules, and `PlateauWarmup`, a callback, for "plateau".
"""

from __future__ import annotations

import keras

from kerascnn.training.ema import WITH_EMA_WARMUP
from kerascnn.training.recipes import Recipe

__all__ = ["scaled_learning_rate", "make_schedule", "make_optimizer", "plateau_callback",
           "apply_weight_decay", "current_learning_rate", "LinearWarmup", "PlateauWarmup",
           "warmup_steps", "NO_DECAY_NAMES"]

# Variables that decoupled-decay recipes leave undecayed: biases and batch norm's scale and shift
# (timm's `param_groups_weight_decay`, torchvision's `norm_weight_decay=0`).
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="kerascnn")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `schedule(warmup_steps)` over `warmup_steps`, then follows
    `schedule` (a float or a `LearningRateSchedule` of the same step counter)."""

    def __init__(self, schedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def _after(self, step):
        if isinstance(self.schedule, keras.optimizers.schedules.LearningRateSchedule):
            return self.schedule(step)
        return keras.ops.convert_to_tensor(self.schedule, "float32")

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = (step + 1.0) / float(max(1, self.warmup_steps))
        after = self._after(step)
        return keras.ops.where(step < self.warmup_steps, after * ramp, after)

    def get_config(self) -> dict:
        schedule = self.schedule
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config: dict):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        return cls(schedule, config["warmup_steps"])


class PlateauWarmup(keras.callbacks.Callback):
    """Sets the rate to `learning_rate * (step + 1) / warmup_steps` during the first
    `warmup_steps` steps of a "plateau" run, whose rate is a plain variable."""

    def __init__(self, learning_rate: float, warmup_steps: int):
        super().__init__()
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step < self.warmup_steps:
            self.model.optimizer.learning_rate = self.learning_rate * (step + 1) / self.warmup_steps
        elif step == self.warmup_steps:
            self.model.optimizer.learning_rate = self.learning_rate


def warmup_steps(recipe: Recipe, steps_per_epoch: int) -> int:
    """The recipe's warm-up in optimizer steps."""
    return int(round(recipe.warmup_epochs * max(1, int(steps_per_epoch))))


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
    warmup = warmup_steps(recipe, steps)
    if recipe.schedule == "plateau":
        return float(learning_rate)  # Warmed up by `PlateauWarmup`.
    if recipe.schedule == "cosine":
        if not warmup:
            return schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * steps))
        return schedules.CosineDecay(0.0, decay_steps=max(1, epochs * steps - warmup),
                                     warmup_target=float(learning_rate), warmup_steps=warmup)
    schedule = _decay_schedule(recipe, learning_rate, epochs, steps)
    return LinearWarmup(schedule, warmup) if warmup else schedule


def _decay_schedule(recipe: Recipe, learning_rate: float, epochs: int, steps: int):
    schedules = keras.optimizers.schedules
    if recipe.schedule == "constant":
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
    if recipe.schedule == "linear":
        return schedules.PolynomialDecay(
            learning_rate, decay_steps=max(1, epochs * steps), end_learning_rate=0.0, power=1.0
        )
    raise ValueError(f"Unknown schedule. Received: schedule={recipe.schedule!r}")


def make_optimizer(recipe: Recipe, schedule) -> keras.optimizers.Optimizer:
    """The recipe's optimizer with `schedule` as its learning rate, its gradient clipping and
    its weight EMA (Keras's `global_clipnorm`, `use_ema`; `kerascnn.training.ema`'s subclass of
    the same optimizer when the average warms up)."""
    common = {"global_clipnorm": recipe.clip_norm}
    if recipe.ema_decay:
        common.update(use_ema=True, ema_momentum=recipe.ema_decay)

    def optimizer_class(keras_class):
        return WITH_EMA_WARMUP[keras_class] if recipe.ema_decay and recipe.ema_warmup \
            else keras_class

    if recipe.optimizer == "sgd":
        return optimizer_class(keras.optimizers.SGD)(
            schedule, momentum=recipe.momentum, nesterov=recipe.nesterov, **common)
    if recipe.optimizer == "rmsprop":
        # MobileNetV2: "RMSPropOptimizer with decay and momentum both set to 0.9".
        return optimizer_class(keras.optimizers.RMSprop)(
            schedule, rho=0.9, momentum=recipe.momentum, **common)
    if recipe.optimizer == "adam":
        return optimizer_class(keras.optimizers.Adam)(schedule, **common)
    if recipe.optimizer == "adamw":
        optimizer = optimizer_class(keras.optimizers.AdamW)(
            schedule, weight_decay=recipe.weight_decay, **common)
        if not recipe.decay_norm_and_bias:
            optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
        return optimizer
    raise ValueError(f"Unknown optimizer. Received: optimizer={recipe.optimizer!r}")


def plateau_callbacks(recipe: Recipe, learning_rate: float, monitor: str,
                      steps_per_epoch: int) -> list:
    """`ReduceLROnPlateau` (after `PlateauWarmup` when the recipe warms up) for a "plateau"
    recipe; none for the other schedules."""
    if recipe.schedule != "plateau":
        return []
    warmup = warmup_steps(recipe, steps_per_epoch)
    reduce = plateau_callback(recipe, learning_rate, monitor)
    return [PlateauWarmup(learning_rate, warmup), reduce] if warmup else [reduce]


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


def apply_weight_decay(model: keras.Model, weight_decay: float,
                       decay_norm_and_bias: bool = True) -> int:
    """Adds the L2 penalty `weight_decay / 2 * ||w||^2` (gradient `weight_decay * w`) to every
    trainable weight without a regularizer of its own (but biases and batch-norm scales and
    shifts unless `decay_norm_and_bias`); returns how many weights it covers.

    The penalty is attached to the variables, not to the layers' configs, so saved models are
    unchanged.
    """
    if not weight_decay:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2.0)
    covered = 0
    for variable in model.trainable_weights:
        if not decay_norm_and_bias and variable.name in NO_DECAY_NAMES:
            continue
        if getattr(variable, "regularizer", None) is None:
            variable.regularizer = regularizer
            covered += 1
    return covered


def current_learning_rate(optimizer) -> float:
    """The optimizer's learning rate at its current step."""
    rate = optimizer.learning_rate
    return float(keras.ops.convert_to_numpy(rate))
