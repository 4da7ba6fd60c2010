"""Data for kerascnn: tensorflow-datasets, image folders, arrays and digits as tf.data pipelines,
augmentation policies that run inside them, and center/10-crop evaluation."""

from kerascnn.data.augmentation import POLICIES, Policy, get_policy
from kerascnn.data.loading import DataBundle, load
from kerascnn.data.normalization import NORMALIZATIONS, normalize

__all__ = ["load", "DataBundle", "normalize", "NORMALIZATIONS", "Policy", "POLICIES", "get_policy"]
