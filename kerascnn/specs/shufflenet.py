"""ShuffleNet v1 and v2 as data.

v1: X. Zhang, X. Zhou, M. Lin, J. Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural
Network for Mobile Devices", CVPR 2018 (arXiv:1707.01083), Table 1.
v2: N. Ma, X. Zhang, H.-T. Zheng, J. Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018 (arXiv:1807.11164), Table 5.

Both: a 3x3/2 convolution with 24 maps and 3x3/2 max pooling, three stages of units on 28x28,
14x14 and 7x7 maps (the first unit of each stage has stride 2), global pooling and the classifier.
"""

from __future__ import annotations

from kerascnn.specs.variant import variant

# Units per stage (Stage 2, 3, 4), the first with stride 2: Table 1 ("Repeat" 1 + 3, 1 + 7, 1 + 3)
# and Table 5 of v2 (4, 8, 4).
STAGE_UNITS = (4, 8, 4)
STEM_CHANNELS = 24

# Batch-norm epsilon of the official PyTorch code and torchvision (PyTorch's default).
BN_EPSILON = 1e-5

# --- v1 -----------------------------------------------------------------------------------------

# Output channels of Stage 2 for each number of groups g at 1x (Table 1); Stage 3 and Stage 4 double
# them each time. Chosen by the authors to keep the complexity near 140 MFLOPs.
V1_STAGE2_CHANNELS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}

# "we set the number of bottleneck channels to 1/4 of the output channels for each ShuffleNet unit".
V1_BOTTLENECK_RATIO = 4

# The official code's narrowest stem (at 0.5x); the paper does not say how the stem scales.
V1_MIN_STEM_CHANNELS = 12


def _round_to_multiple(value: float, multiple: int) -> int:
    return max(multiple, int(value / multiple + 0.5) * multiple)


def v1_channels(groups: int, scale: float = 1.0) -> tuple[int, tuple[int, int, int]]:
    """(stem maps, (Stage 2, Stage 3, Stage 4 output maps)) of ShuffleNet `scale`x with g groups.

    Scaled widths are rounded to a multiple of 4g (so the bottleneck, a quarter of the width, splits
    into g groups) and the stem to a multiple of g (so the grouped convolutions of the first unit
    divide), never below V1_MIN_STEM_CHANNELS. At 1x this is Table 1 exactly; at 0.5x it is the
    official code's widths (12 and 120 maps for g = 3, 16 and 192 for g = 8); at 0.25x it gives
    Table 2's 13 MFLOPs for g = 3.
    """
    stage2 = _round_to_multiple(V1_STAGE2_CHANNELS[groups] * scale, V1_BOTTLENECK_RATIO * groups)
    stem = _round_to_multiple(max(STEM_CHANNELS * scale, V1_MIN_STEM_CHANNELS), groups)
    return stem, (stage2, 2 * stage2, 4 * stage2)


# --- v2 -----------------------------------------------------------------------------------------

# Output channels of Stage 2, 3, 4 and of Conv5 (Table 5), per scale, as torchvision's
# `stages_out_channels` (after the 24-map stem).
V2_CHANNELS = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}

V1_VARIANTS = {
    f"shufflenet_g{groups}": variant(f"ShuffleNet v1 1x with g = {groups} groups (Zhang et al. "
                                     f"2018, Table 1)", groups=groups)
    for groups in V1_STAGE2_CHANNELS
}
V2_VARIANTS = {
    f"shufflenet_v2_x{str(scale).replace('.', '_')}": variant(
        f"ShuffleNet v2 {scale:g}x (Ma et al. 2018, Table 5)", scale=scale)
    for scale in V2_CHANNELS
}
