"""Transfer learning: fine-tuning by block groups, feature extraction, the notes' advisor, and
growing a deeper network from a trained shallower one."""

from kerascnn.transfer.optimizers import GroupLearningRates, layerwise_decay

__all__ = ["GroupLearningRates", "layerwise_decay"]
