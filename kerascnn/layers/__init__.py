"""Custom, registered, serializable layers (never `Lambda`): every model saves to `.keras`,
loads with `safe_mode=True`, and exports."""

from kerascnn.layers.batch_norm import BatchNormalization
from kerascnn.layers.ceil_pooling import CeilModePooling2D
from kerascnn.layers.conv import Conv2D
from kerascnn.layers.channel_shuffle import ChannelShuffle, ChannelSplit
from kerascnn.layers.lenet import (EuclideanRBF, PartialConv2D, ScaledTanh, Subsampling,
                                   UntiedBias)
from kerascnn.layers.normalization import LocalResponseNormalization
from kerascnn.layers.scaling import ScaledResidual
from kerascnn.layers.shortcut import ZeroPaddedIdentity
from kerascnn.layers.stochastic_depth import StochasticDepth

__all__ = ["BatchNormalization", "CeilModePooling2D", "Conv2D", "EuclideanRBF", "PartialConv2D", "ScaledTanh", "Subsampling",
           "LocalResponseNormalization", "ScaledResidual", "ChannelShuffle", "ChannelSplit",
           "StochasticDepth", "UntiedBias", "ZeroPaddedIdentity"]
