"""Layer-wise learning-rate decay over a model's block groups, for `GroupLearningRates`.

The optimizer itself lives in `kerascnn.group_learning_rates`, below loading, so that a saved
fine-tuning run loads without importing this package.
"""

from __future__ import annotations

import keras

from kerascnn.group_learning_rates import GroupLearningRates
from kerascnn.groups import block_groups

__all__ = ["GroupLearningRates", "layerwise_decay"]


def layerwise_decay(model: keras.Model, decay: float = 0.5, head: float = 1.0) -> dict:
    """Factors decaying geometrically from the head towards the input: `{group: head * decay**k}`.

    The group `k` steps below the head gets `head * decay**k` (the last stage `decay`, the one
    before it `decay**2`, ...), the usual layer-wise learning-rate decay for fine-tuning.

    Args:
        model: A model with kerascnn block-group names.
        decay: Factor per group, in (0, 1] (default 0.5).
        head: Factor of the head (default 1.0).

    Returns:
        A dict for `GroupLearningRates(multipliers=...)`.
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay <= 1:
        raise ValueError(f"decay must be a number in (0, 1]. Received: decay={decay!r}")
    groups = [g for g in block_groups(model) if g != "input"]
    return {g: float(head * decay ** k) for k, g in enumerate(reversed(groups))}
