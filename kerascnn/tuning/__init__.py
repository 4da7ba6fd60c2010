"""Hyper-parameter search with keras-tuner over each family's real knobs (`kerascnn.tune`)."""

from kerascnn.tuning.search import TUNERS, FamilyHyperModel, TuneResult, augmentation_for, tune
from kerascnn.tuning.spaces import COMMON, FAMILY_SPACES, space_for

__all__ = ["tune", "TuneResult", "FamilyHyperModel", "TUNERS", "augmentation_for", "COMMON",
           "FAMILY_SPACES", "space_for"]
