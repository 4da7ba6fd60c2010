"""Keras's optimizers with a warm-up of their weight average's decay.

Keras's `use_ema` averages with a fixed decay from the second step on, so with timm's 0.9999 a
run of a few thousand steps ends with an average that is still mostly the initial weights:
trained on a few hundred images, such a model scores at chance. timm's
`ModelEmaV3(use_warmup=True)` (its `train.py --model-ema-warmup`, after Katherine Crowson's
k-diffusion) lets the decay grow with the step instead:

    decay(t) = min(ema_decay, 1 - (1 + t) ** -power),    power = 2/3,

which is 0 at the first step (the average starts as the weights), 0.99 after 1,000 steps, 0.999
after 31,600 and 0.9999 after a million (an average over about (1 + t) ** power steps), so a
long run ends with nearly the fixed decay's average and a run of a thousand steps with an average
of about its last hundred. Keras's own averaging code runs otherwise unchanged (swapping for
validation, `ema_overwrite_frequency`), under every `tf.distribute` strategy.
"""

from __future__ import annotations

import keras

__all__ = ["EMAWarmup", "SGD", "RMSprop", "Adam", "AdamW", "WITH_EMA_WARMUP"]

# timm's default `warmup_power`, the one its train.py uses.
WARMUP_POWER = 2.0 / 3.0


class EMAWarmup:
    """Mixin for a Keras optimizer: the weight average's decay warms up as timm's
    `ModelEmaV3(use_warmup=True)` does (see the module's docstring), up to `ema_momentum`."""

    def __init__(self, *args, ema_warmup_power: float = WARMUP_POWER, **kwargs):
        super().__init__(*args, **kwargs)
        if not (isinstance(ema_warmup_power, (int, float)) and ema_warmup_power > 0):
            raise ValueError("ema_warmup_power must be a number > 0. "
                             f"Received: ema_warmup_power={ema_warmup_power!r}")
        self.ema_warmup_power = float(ema_warmup_power)

    def ema_decay_at(self, step):
        """The decay of the average's update after optimizer step `step` (counted from 0)."""
        step = keras.ops.cast(step, "float32")
        warming = 1.0 - keras.ops.power(1.0 + step, -self.ema_warmup_power)
        return keras.ops.minimum(warming, float(self.ema_momentum))

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras's update, with the decay of `ema_decay_at` in place of its constant.
        if not self.use_ema:
            return
        decay = self.ema_decay_at(self.iterations)
        for variable, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                momentum = keras.ops.cast(decay, variable.dtype)
                average.assign(momentum * average + (1.0 - momentum) * variable)

    def get_config(self) -> dict:
        return {**super().get_config(), "ema_warmup_power": self.ema_warmup_power}


@keras.saving.register_keras_serializable(package="kerascnn")
class SGD(EMAWarmup, keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose weight average warms up (`EMAWarmup`)."""


@keras.saving.register_keras_serializable(package="kerascnn")
class RMSprop(EMAWarmup, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop` whose weight average warms up (`EMAWarmup`)."""


@keras.saving.register_keras_serializable(package="kerascnn")
class Adam(EMAWarmup, keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose weight average warms up (`EMAWarmup`)."""


@keras.saving.register_keras_serializable(package="kerascnn")
class AdamW(EMAWarmup, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose weight average warms up (`EMAWarmup`)."""


# The optimizer each Keras class becomes when the recipe warms its weight average up.
WITH_EMA_WARMUP = {keras.optimizers.SGD: SGD, keras.optimizers.RMSprop: RMSprop,
                   keras.optimizers.Adam: Adam, keras.optimizers.AdamW: AdamW}
