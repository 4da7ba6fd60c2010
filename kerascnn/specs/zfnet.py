"""ZFNet as data: Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks",
ECCV 2014, figure 3 and section 3.

224x224 crops -> 96 7x7/2 filters (110x110) -> 3x3/2 max pool (55) -> contrast normalization ->
256 5x5/2 (26) -> pool (13) -> normalization -> 384 3x3 -> 384 3x3 -> 256 3x3 (13) -> pool (6)
-> 4096 -> 4096 -> C classes, with ReLUs and dropout 0.5 in the fully connected layers.
"""

from typing import NamedTuple

from kerascnn.specs.variant import variant

VARIANTS = {
    "zfnet": variant("ZFNet: AlexNet with 7x7/2 and 5x5/2 first layers, figure 3 "
                     "(Zeiler & Fergus 2014, ECCV)"),
}


class ConvLayer(NamedTuple):
    """One convolutional layer of figure 3 and what follows it."""

    name: str
    filters: int
    kernel: int
    strides: int
    padding: str | int  # "valid", "same", or symmetric zero padding then "valid"
    pool: bool  # 3x3/2 max pooling after the ReLU
    lrn: bool  # contrast normalization across feature maps after the pooling


CONVOLUTIONS = (
    ConvLayer("conv1", 96, 7, 2, 1, True, True),  # 224 -> 110 -> pool 55
    ConvLayer("conv2", 256, 5, 2, "valid", True, True),  # 55 -> 26 -> pool 13
    ConvLayer("conv3", 384, 3, 1, "same", False, False),  # 13
    ConvLayer("conv4", 384, 3, 1, "same", False, False),  # 13
    ConvLayer("conv5", 256, 3, 1, "same", True, False),  # 13 -> pool 6
)
# The figure's 110 -> 55 and 26 -> 13 are pooling rounded up, as Caffe rounds.
POOL_SIZE = 3
POOL_STRIDES = 2

# The paper normalizes "across feature maps" without constants; these are AlexNet's (Krizhevsky
# et al. 2012, section 3.3), the network ZFNet modifies.
LRN = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}

FULLY_CONNECTED = ("fc6", "fc7")
FC_UNITS = 4096
DROPOUT_RATE = 0.5

# Section 3: "we renormalize each filter in the convolutional layers whose RMS value exceeds a
# fixed radius of 10^-1 to this fixed radius."
FILTER_RADIUS = 0.1
