"""The residual families as data: stage tables, widths and variant settings.

He et al. 2015 ("Deep Residual Learning for Image Recognition"): Table 1 (ImageNet) and section 4.2
(CIFAR-10). He et al. 2016 ("Identity Mappings in Deep Residual Networks"): pre-activation depths.
Zagoruyko & Komodakis 2016 ("Wide Residual Networks"): Table 1. Xie et al. 2017 ("Aggregated
Residual Transformations for Deep Neural Networks"): ResNeXt cardinality and widths, as torchvision
names them.
"""

# He et al. 2015, Table 1: depth -> (block, blocks in conv2_x, conv3_x, conv4_x, conv5_x).
IMAGENET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
# Output channels of the 3x3 convolutions per stage; bottleneck blocks output four times as many.
IMAGENET_WIDTHS = (64, 128, 256, 512)
# conv1: 7x7, 64 filters, stride 2, then 3x3 max pooling with stride 2.
IMAGENET_STEM = (64, 7)
BOTTLENECK_EXPANSION = 4
# The channels per group of the 3x3 bottleneck convolution in a plain ResNet (torchvision's
# `width_per_group`): inner width = filters * width_per_group / 64 * groups.
BASE_WIDTH = 64

# Section 4.2: 6n + 2 layers; a 3x3 convolution with 16 filters, then three stages of 2n 3x3
# layers with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average pooling and a
# 10-way fully connected layer. The paper trains n = 3, 5, 7, 9, 18 and 200.
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)
# Figure 6 (left): the plain networks of the degradation experiment.
PLAIN_DEPTHS = (20, 32, 44, 56, 110)

# Pre-activation ResNets on ImageNet, as keras.applications' ResNetV2 (the TF-slim layout):
# depth -> blocks per stage; the strided block is the last of stages conv2 to conv4.
PREACT_IMAGENET_STAGES = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
# He et al. 2016, Tables 2-3 and section 5: CIFAR depths -> whether the unit is a bottleneck
# (9n + 2 layers, outputs 4 x 16, 32, 64 channels) or basic (6n + 2 layers, 16, 32, 64).
PREACT_CIFAR = {110: False, 164: True, 1001: True}

# Zagoruyko & Komodakis 2016, Table 1: WRN-d-k has (d - 4) / 6 basic pre-activation blocks per
# group, with 16k, 32k and 64k channels after a 16-channel 3x3 convolution.
WIDE_CIFAR = {"wrn28_10": (28, 10), "wrn16_8": (16, 8)}
WIDE_STEM = 16

# ImageNet bottleneck variants (torchvision's names): name -> (depth, groups, width_per_group).
WIDE_IMAGENET = {"wide_resnet50_2": (50, 1, 128), "wide_resnet101_2": (101, 1, 128)}
RESNEXT = {"resnext50_32x4d": (50, 32, 4), "resnext101_32x8d": (101, 32, 8)}


def cifar_blocks_per_stage(depth: int, layers_per_block: int = 2, extra_layers: int = 2) -> int:
    """Blocks per stage of a CIFAR network with `depth = 3 * n * layers_per_block + extra_layers`.

    Returns 0 when `depth` has no such form (the caller reports the error).
    """
    body = depth - extra_layers
    per_stage, remainder = divmod(body, 3 * layers_per_block)
    return per_stage if remainder == 0 and per_stage >= 1 else 0
