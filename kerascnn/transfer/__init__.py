"""Transfer learning: fine-tuning by block groups, per-group learning rates, feature extraction,
the notes' advisor, and growing a deeper network from a trained shallower one."""

from kerascnn.transfer.advisor import Plan, advise
from kerascnn.transfer.finetune import fine_tune
from kerascnn.transfer.freezing import (
    backbone_groups,
    features,
    freeze,
    replace_head,
    trainable_groups_for,
)
from kerascnn.transfer.growing import GrowReport, grow
from kerascnn.transfer.optimizers import GroupLearningRates, layerwise_decay
from kerascnn.transfer.probe import linear_probe

__all__ = [
    "fine_tune",
    "features",
    "linear_probe",
    "advise",
    "Plan",
    "grow",
    "GrowReport",
    "freeze",
    "replace_head",
    "backbone_groups",
    "trainable_groups_for",
    "GroupLearningRates",
    "layerwise_decay",
]
