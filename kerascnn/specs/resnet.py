"""The residual families as data: stage tables, widths and variant settings.

He et al. 2015 ("Deep Residual Learning for Image Recognition"): Table 1 (ImageNet) and section 4.2
(CIFAR-10). He et al. 2016 ("Identity Mappings in Deep Residual Networks"): pre-activation depths.
Zagoruyko & Komodakis 2016 ("Wide Residual Networks"): Table 1. Xie et al. 2017 ("Aggregated
Residual Transformations for Deep Neural Networks"): ResNeXt cardinality and widths, as torchvision
names them.

Every registered name is a row of a variant table below, registered on its family's builder.
"""

from __future__ import annotations

from kerascnn import validation
from kerascnn.specs.variant import variant


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
# How `depth` counts layers in a CIFAR network: layers outside the blocks. He et al. count the stem
# and the classifier (6n + 2); Zagoruyko & Komodakis also count two projection shortcuts (6n + 4).
CIFAR_DEPTH_RULES = {"he": 2, "wrn": 4}

# --- Registered variants --------------------------------------------------------------------------

_V1 = "He et al. 2015, Table 1"
IMAGENET_VARIANTS = {
    "resnet": variant(f"ResNet v1 for ImageNet, ResNet-50 by default ({_V1})", depth=50),
    "resnet18": variant(f"ResNet-18: basic blocks 2-2-2-2, 11.7M parameters ({_V1})", depth=18),
    "resnet34": variant(f"ResNet-34: basic blocks 3-4-6-3, 21.8M parameters ({_V1})", depth=34),
    "resnet50": variant(f"ResNet-50: bottlenecks 3-4-6-3, 25.6M parameters ({_V1})", depth=50),
    "resnet101": variant(f"ResNet-101: bottlenecks 3-4-23-3, 44.5M parameters ({_V1})",
                         depth=101),
    "resnet152": variant(f"ResNet-152: bottlenecks 3-8-36-3, 60.2M parameters ({_V1})",
                         depth=152),
}
# Xie et al. 2017, Table 1, as torchvision names them: grouped 3x3 bottleneck convolutions with
# cardinality C and width d per group, strided in the 3x3 convolution.
RESNEXT_VARIANTS = {
    "resnext50_32x4d": variant("ResNeXt-50 (32x4d): ResNet-50 with 32 groups of 4 channels "
                               "(Xie et al. 2017, Table 1)",
                               depth=50, groups=32, width_per_group=4, stride_at="3x3"),
    "resnext101_32x8d": variant("ResNeXt-101 (32x8d): ResNet-101 with 32 groups of 8 channels "
                                "(Xie et al. 2017)",
                                depth=101, groups=32, width_per_group=8, stride_at="3x3"),
}
# Zagoruyko & Komodakis 2016, section 4 (WRN-50-2-bottleneck), as torchvision: twice the inner
# width of each bottleneck, strided in the 3x3 convolution.
WIDE_IMAGENET_VARIANTS = {
    "wide_resnet50_2": variant("WRN-50-2: ResNet-50 with bottlenecks twice as wide "
                               "(Zagoruyko & Komodakis 2016, section 4)",
                               depth=50, width_per_group=128, stride_at="3x3"),
    "wide_resnet101_2": variant("WRN-101-2: ResNet-101 with bottlenecks twice as wide "
                                "(torchvision's wide_resnet101_2)",
                                depth=101, width_per_group=128, stride_at="3x3"),
}
PREACT_IMAGENET_VARIANTS = {
    f"resnet{depth}v2": variant(f"Pre-activation ResNet-{depth} in keras.applications' ResNetV2 "
                                f"layout (He et al. 2016)", depth=depth)
    for depth in PREACT_IMAGENET_STAGES
}
CIFAR_VARIANTS = {
    f"resnet{depth}": variant(f"ResNet-{depth} for CIFAR-10: n = {(depth - 2) // 6}, option A "
                              f"shortcuts (He et al. 2015, section 4.2)", depth=depth)
    for depth in CIFAR_DEPTHS
}
PLAIN_VARIANTS = {
    f"plain{depth}": variant(f"Plain-{depth}: ResNet-{depth} for CIFAR-10 without shortcuts "
                             f"(He et al. 2015, figure 6)", depth=depth, shortcut=None)
    for depth in PLAIN_DEPTHS
}
PREACT_CIFAR_VARIANTS = {
    f"preact_resnet{depth}": variant(
        f"Pre-activation ResNet-{depth} for CIFAR-10, {'bottleneck' if bottleneck else 'basic'} "
        f"units (He et al. 2016, Table 2)", depth=depth, bottleneck=bottleneck)
    for depth, bottleneck in PREACT_CIFAR.items()
}
WIDE_CIFAR_VARIANTS = {
    "wrn28_10": variant("WRN-28-10 for CIFAR: 10x wide pre-activation blocks, 36.5M parameters "
                        "(Zagoruyko & Komodakis 2016, Table 1)", depth=28, width=10),
    "wrn16_8": variant("WRN-16-8 for CIFAR: 8x wide pre-activation blocks, 11.0M parameters "
                       "(Zagoruyko & Komodakis 2016, Table 1)", depth=16, width=8),
}
NOTES_VARIANTS = {
    "notes_resnet20": variant("ResNet-20 for CIFAR-10 of the lecture notes' residual blocks "
                              "(He et al. 2015, section 4.2 layout)", depth=20),
}


def cifar_blocks_per_stage(depth: int, layers_per_block: int = 2, extra_layers: int = 2) -> int:
    """Blocks per stage of a CIFAR network with `depth = 3 * n * layers_per_block + extra_layers`.

    Returns 0 when `depth` has no such form (the caller reports the error).
    """
    body = depth - extra_layers
    per_stage, remainder = divmod(body, 3 * layers_per_block)
    return per_stage if remainder == 0 and per_stage >= 1 else 0


# The deepest CIFAR ResNet published has 1202 layers (He et al. 2015, section 4.2). Well beyond
# that a network takes hours to build and outgrows the recursion limit kerascnn sets for Keras's
# graph walk (20,000 frames, about three Keras layers per counted layer): refused at once.
MAX_CIFAR_DEPTH = 5000


def check_cifar_depth(depth, layers_per_block: int = 2, extra_layers: int = 2) -> int:
    """Returns the blocks per stage for `depth`, or raises a ValueError naming the valid form."""
    validation.check_positive_int(depth, "depth", maximum=MAX_CIFAR_DEPTH)
    blocks = cifar_blocks_per_stage(depth, layers_per_block, extra_layers)
    if not blocks:
        step = 3 * layers_per_block
        first = step + extra_layers
        raise ValueError(
            f"depth must be {step}n + {extra_layers} with n >= 1 ({first}, {first + step}, "
            f"{first + 2 * step} ...). Received: depth={depth!r}"
        )
    return blocks
