"""AlexNet as data (Krizhevsky, Sutskever, Hinton 2012, "ImageNet Classification with Deep
Convolutional Neural Networks", section 3.5 and figure 2).

The paper split the network over two GPUs: conv2, conv4 and conv5 see only the maps of their own
GPU (48 + 48, 192 + 192 input channels), which is a grouped convolution with two groups; conv3
and the fully connected layers see both halves.
"""

from typing import NamedTuple

from kerascnn.specs.variant import variant


class ConvLayer(NamedTuple):
    """One convolutional layer of figure 2 and what follows it."""

    name: str
    filters: int
    kernel: int
    strides: int
    padding: str | int  # "valid", "same", or symmetric zero padding then "valid"
    tower_groups: int  # convolution groups in the two-tower network (1 = sees both towers)
    lrn: bool  # response normalization after the ReLU (section 3.3)
    pool: bool  # overlapping max pooling after it (section 3.4)


CONVOLUTIONS = (
    ConvLayer("conv1", 96, 11, 4, "valid", 1, True, True),  # 227 -> 55 -> pool 27
    ConvLayer("conv2", 256, 5, 1, "same", 2, True, True),  # 27 -> 27 -> pool 13
    ConvLayer("conv3", 384, 3, 1, "same", 1, False, False),  # 13
    ConvLayer("conv4", 384, 3, 1, "same", 2, False, False),  # 13
    ConvLayer("conv5", 256, 3, 1, "same", 2, False, True),  # 13 -> pool 6
)

# torchvision's AlexNet (torchvision/models/alexnet.py), after "One weird trick" (Krizhevsky
# 2014): one tower of 64-192-384-256-256 filters, no LRN, conv1 padded by 2 pixels (an int padding
# is explicit symmetric zero padding). Its weights exist, so it is registered as
# `alexnet_torchvision`; `alexnet` keeps the paper's network.
TORCHVISION_CONVOLUTIONS = (
    ConvLayer("conv1", 64, 11, 4, 2, 1, False, True),  # 224 -> 55 -> pool 27
    ConvLayer("conv2", 192, 5, 1, "same", 1, False, True),  # 27 -> 27 -> pool 13
    ConvLayer("conv3", 384, 3, 1, "same", 1, False, False),  # 13
    ConvLayer("conv4", 256, 3, 1, "same", 1, False, False),  # 13
    ConvLayer("conv5", 256, 3, 1, "same", 1, False, True),  # 13 -> pool 6
)
LAYOUTS = {"paper": CONVOLUTIONS, "torchvision": TORCHVISION_CONVOLUTIONS}

# Overlapping pooling: z = 3, s = 2 (section 3.4).
POOL_SIZE = 3
POOL_STRIDES = 2

# Section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75.
LRN = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}

# Constants by name: the paper's, and those of BVLC's Caffe replication (bvlc_alexnet
# deploy.prototxt: local_size 5, alpha 1e-4, beta 0.75, Caffe's default k 1), which its weights
# need. Caffe divides alpha by local_size, hence 1e-4 / 5 here.
LRN_CONSTANTS = {"paper": LRN, "caffe": {"k": 1.0, "n": 5, "alpha": 1e-4 / 5, "beta": 0.75}}

# FC6 and FC7, each followed by dropout 0.5 (section 4.2); FC8 is the classifier.
FULLY_CONNECTED = ("fc6", "fc7")
FC_UNITS = 4096
DROPOUT_RATE = 0.5

_PAPER = "Krizhevsky et al. 2012"
VARIANTS = {
    "alexnet": variant(f"AlexNet as the paper trained it on two GPUs: grouped conv2/4/5 ({_PAPER})",
                       input_shape=(227, 227, 3), towers=2),
    "alexnet_onetower": variant(f"AlexNet on one device: ungrouped convolutions ({_PAPER})",
                                input_shape=(227, 227, 3), towers=1),
    "alexnet_torchvision": variant("AlexNet in torchvision's one-tower layout (64-192-384-256-256 "
                                   "filters, no LRN) for its weights (Krizhevsky 2014)",
                                   input_shape=(224, 224, 3), towers=1, layout="torchvision"),
}
