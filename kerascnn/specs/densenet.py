"""DenseNet as data (Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017, Table 1 for ImageNet and section 3/4.1 for CIFAR).

A dense layer is BN-ReLU-Conv(3x3, k maps), or with the bottleneck ("B") BN-ReLU-Conv(1x1, 4k)-
BN-ReLU-Conv(3x3, k); its k new maps are concatenated to its input. Transition layers between dense
blocks are BN-ReLU-Conv(1x1)-AvgPool(2x2, stride 2), keeping `floor(theta * m)` of the m maps
("C", compression theta = 0.5). DenseNet-BC has both.
"""

from __future__ import annotations

import dataclasses

from kerascnn.specs.variant import variant

# ImageNet DenseNet-BC (Table 1; DenseNet-161 uses k = 48 and 96 initial maps, as in the authors'
# code and torchvision). depth L = 2 * sum(layers) + 4: the stem convolution, three transition
# convolutions and the classifier.
IMAGENET = {
    # depth: (layers per dense block, growth rate k, maps after the stem)
    121: ((6, 12, 24, 16), 32, 64),
    161: ((6, 12, 36, 24), 48, 96),
    169: ((6, 12, 32, 32), 32, 64),
    201: ((6, 12, 48, 32), 32, 64),
    264: ((6, 12, 64, 48), 32, 64),
}

# The stem of the ImageNet networks: 7x7 convolution, stride 2 (padding 3), BN-ReLU, then 3x3 max
# pooling with stride 2 (padding 1).
IMAGENET_STEM = {"kernel": 7, "strides": 2, "pool": 3}

# The CIFAR/SVHN networks: three dense blocks of equal size on 32x32, 16x16 and 8x8 maps, after a
# single 3x3 convolution with 16 maps (2k for DenseNet-BC).
CIFAR_BLOCKS = 3
CIFAR_INITIAL_FEATURES = 16

# The bottleneck 1x1 convolution produces BOTTLENECK_WIDTH * k maps ("we let each 1x1 convolution
# produce 4k feature-maps").
BOTTLENECK_WIDTH = 4
# The deepest CIFAR DenseNet of the paper has L = 250 (Table 2); far beyond that a build takes hours
# and outgrows Keras's graph walk, so larger depths are refused at once.
MAX_CIFAR_DEPTH = 2000
COMPRESSION = 0.5

# keras.applications' DenseNets use this batch-norm epsilon; keeping it lets their weights compute
# the same function here.
BN_EPSILON = 1.001e-5


@dataclasses.dataclass(frozen=True)
class DenseNetSpec:
    """One DenseNet: everything the builder needs.

    Attributes:
        blocks: Dense layers per dense block.
        growth_rate: k, the maps each dense layer adds.
        initial_features: Maps out of the stem.
        bottleneck: Whether dense layers have the 1x1 bottleneck ("B").
        compression: theta, the fraction of maps a transition keeps ("C" when < 1).
        stem: "imagenet" (7x7/2 convolution and 3x3/2 max pooling) or "cifar" (one 3x3 convolution).
    """

    blocks: tuple
    growth_rate: int
    initial_features: int
    bottleneck: bool
    compression: float
    stem: str


def imagenet_spec(depth: int, growth_rate: int | None = None) -> DenseNetSpec:
    """The ImageNet DenseNet-BC of Table 1 with `depth` layers (121, 161, 169, 201 or 264)."""
    blocks, default_growth, initial = IMAGENET[depth]
    growth_rate = growth_rate or default_growth
    return DenseNetSpec(blocks, growth_rate, initial, True, COMPRESSION, "imagenet")


def cifar_layers_per_block(depth: int, bottleneck: bool) -> int | None:
    """Dense layers per block of the CIFAR network of `depth` (None if the depth does not fit).

    L = 3n + 4 without bottleneck (n 3x3 convolutions per block) and L = 6n + 4 with it (each dense
    layer then holds two convolutions), counting the first convolution, two transitions and the
    classifier.
    """
    per_layer = 2 if bottleneck else 1
    layers, remainder = divmod(depth - 4, CIFAR_BLOCKS * per_layer)
    return layers if remainder == 0 and layers >= 1 else None


def cifar_spec(
    depth: int, growth_rate: int, bottleneck: bool, compression: float
) -> DenseNetSpec:
    """A CIFAR DenseNet of `depth` (section 3, "Implementation Details"): 16 initial maps, or 2k for
    DenseNet-BC (bottleneck and compression)."""
    n = cifar_layers_per_block(depth, bottleneck)
    initial = 2 * growth_rate if bottleneck and compression < 1 else CIFAR_INITIAL_FEATURES
    return DenseNetSpec((n,) * CIFAR_BLOCKS, growth_rate, initial, bottleneck, compression, "cifar")

_PAPER = "Huang et al. 2017"
VARIANTS = {
    **{f"densenet{depth}": variant(
        f"DenseNet-{depth} (DenseNet-BC for ImageNet, k = {growth}): blocks of "
        f"{'-'.join(map(str, layers))} layers ({_PAPER}, Table 1)", depth=depth)
       for depth, (layers, growth, _) in IMAGENET.items()},
    "densenet40_k12": variant(f"DenseNet (L = 40, k = 12) for CIFAR: no bottleneck or compression "
                              f"({_PAPER}, Table 2)", input_shape=(32, 32, 3), num_classes=10,
                              stem="cifar", depth=40, growth_rate=12, bottleneck=False,
                              compression=1.0),
    "densenet_bc100_k12": variant(f"DenseNet-BC (L = 100, k = 12) for CIFAR ({_PAPER}, Table 2)",
                                  input_shape=(32, 32, 3), num_classes=10, stem="cifar", depth=100,
                                  growth_rate=12, bottleneck=True, compression=0.5),
}
