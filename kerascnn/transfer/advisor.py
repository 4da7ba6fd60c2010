"""The notes' transfer-learning table as an advisor: which plan fits your data.

CS5242 lecture notes (after cs231n), transfer learning:

|                     | very similar dataset        | very different dataset               |
|---------------------|-----------------------------|--------------------------------------|
| very little data    | Use Linear Classifier on    | You're in trouble... Try linear      |
|                     | top layer                   | classifier from different stages     |
| quite a lot of data | Finetune a few layers       | Finetune a larger number of layers   |
|                     |                             | or start from scratch!               |
"""

from __future__ import annotations

import dataclasses
import math

from kerascnn import validation

__all__ = ["Plan", "advise", "PLANS"]

# Images per class at which "very little" becomes "quite a lot": about what ImageNet, the usual
# source of pretrained features, has per class (roughly 1,300), rounded down.
LOTS_PER_CLASS = 1000

PLANS = {
    (True, False): ("linear_top", "Use a linear classifier on the top layer's features: freeze the "
                    "whole backbone and train only the new head."),
    (True, True): ("finetune_few", "Fine-tune a few layers: train the new head, then the last few "
                   "block groups with it at a tenth of the learning rate."),
    (False, True): ("finetune_most", "Fine-tune a larger number of layers (or start from scratch): "
                    "train the new head, then every group but the stem at a tenth of the rate."),
    (False, False): ("linear_stages", "You're in trouble... try a linear classifier on features "
                     "from different stages: earlier groups are less specific to the source task."),
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """A transfer-learning plan from `advise`.

    Attributes:
        name: "linear_top", "finetune_few", "finetune_most" or "linear_stages".
        description: The notes' advice in a sentence.
        freeze_until: For `fine_tune`: the number of backbone groups (from the top) that train in
            phase 2 (0 for the linear classifiers).
        feature_groups: For "linear_stages": the groups whose features to try, earliest first;
            otherwise the top group.
        similar: Whether the datasets were called similar.
        a_lot_of_data: Whether the amount of data counts as "quite a lot".
    """

    name: str
    description: str
    freeze_until: int
    feature_groups: tuple
    similar: bool
    a_lot_of_data: bool

    def fine_tune_kwargs(self) -> dict:
        """Arguments for `kerascnn.fine_tune` that carry out this plan."""
        return {"freeze_until": self.freeze_until}


def _is_a_lot(data_size, per_class_threshold: int) -> bool:
    if isinstance(data_size, str):
        validation.check_choice(data_size, "data_size", ("little", "a lot"))
        return data_size == "a lot"
    validation.check_positive_int(data_size, "data_size")
    return data_size >= per_class_threshold


def advise(similar: bool, data_size, model=None, *, lots_per_class: int = LOTS_PER_CLASS) -> Plan:
    """Picks the notes' transfer-learning plan for a dataset.

    Args:
        similar: Whether the new dataset resembles the one the model was trained on (digits 5-9
            after digits 0-4: similar; X-rays after ImageNet: different).
        data_size: "little" or "a lot", or the number of training images per class (compared with
            `lots_per_class`).
        model: Optional model; with it the plan names its block groups and counts (how many groups
            to fine-tune, which stages to read features from).
        lots_per_class: Images per class from which data counts as "quite a lot" (default 1000,
            about ImageNet's per-class count).

    Returns:
        A `Plan`.

    Raises:
        ValueError: For an invalid argument.
    """
    if not isinstance(similar, bool):
        raise ValueError(f"similar must be True or False. Received: similar={similar!r}")
    validation.check_positive_int(lots_per_class, "lots_per_class")
    a_lot = _is_a_lot(data_size, lots_per_class)
    name, description = PLANS[(similar, a_lot)]
    groups = []
    if model is not None:
        from kerascnn.transfer.freezing import backbone_groups

        groups = backbone_groups(model)
    count = len(groups) or 4  # Without a model, a typical stem + three stages.
    if name == "finetune_few":
        freeze_until = max(1, math.ceil(count / 3))
    elif name == "finetune_most":
        freeze_until = max(1, count - 1)  # The stem's edge and colour filters transfer anywhere.
    else:
        freeze_until = 0
    if name == "linear_stages":
        # The middle of the network down to its first half: generic features, still rich.
        feature_groups = tuple(groups[max(1, count // 3): count - 1] or groups[-1:])
    else:
        feature_groups = tuple(groups[-1:])
    return Plan(name, description, freeze_until, feature_groups, similar, a_lot)
