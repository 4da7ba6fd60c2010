"""Stochastic depth: drop a residual branch for a whole example, keep the identity path.

G. Huang, Y. Sun, Z. Liu, D. Sedra, K. Weinberger, "Deep Networks with Stochastic Depth", ECCV 2016.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["StochasticDepth", "linear_drop_rates"]


def linear_drop_rates(drop_path_rate: float, num_blocks: int) -> list[float]:
    """The paper's linear decay rule (equation 4): block l of L drops with rate `l / L * rate`.

    The first block is kept almost always and the last is dropped with `drop_path_rate` (the
    paper's 1 - p_L, 0.5 in its experiments).
    """
    return [drop_path_rate * block / num_blocks for block in range(1, num_blocks + 1)]


@keras.saving.register_keras_serializable(package="kerascnn")
class StochasticDepth(keras.layers.Layer):
    """Zeroes the residual branch of a whole example with probability `rate` during training.

    Applied to the residual branch just before the addition, so a dropped block computes the
    identity. Surviving branches are scaled by `1 / (1 - rate)` during training, which makes the
    layer the identity at inference; the paper scales by the survival probability at test time
    instead, which is the same function up to that constant (the form timm's `DropPath` and
    torchvision's `StochasticDepth(mode="row")` use).

    Args:
        rate: Drop probability in [0, 1).
        seed: Optional seed of the random masks.
        **kwargs: Base `Layer` arguments (`name`, `dtype` ...).

    Raises:
        ValueError: If `rate` is outside [0, 1).
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        mask = ops.floor(noise + ops.cast(keep, inputs.dtype))
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
