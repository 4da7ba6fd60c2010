"""Data for kerascnn: tensorflow-datasets, image folders, arrays and digits as tf.data pipelines,
augmentation policies that run inside them, and center / 10-crop evaluation.

    bundle = kerascnn.data.load("digits", input_shape=(32, 32, 1))
    model.fit(bundle.train, validation_data=bundle.validation)
"""

from kerascnn.data import ops
from kerascnn.data.augmentation import OPS, POLICIES, Policy, get_policy
from kerascnn.data.evaluation import CROPS, center_crop, evaluate_crops, ten_crops
from kerascnn.data.folders import scan_folder
from kerascnn.data.loading import DataBundle, load
from kerascnn.data.normalization import NORMALIZATIONS, normalize

__all__ = [
    "load",
    "DataBundle",
    "normalize",
    "NORMALIZATIONS",
    "Policy",
    "POLICIES",
    "OPS",
    "get_policy",
    "ops",
    "scan_folder",
    "CROPS",
    "center_crop",
    "ten_crops",
    "evaluate_crops",
]
