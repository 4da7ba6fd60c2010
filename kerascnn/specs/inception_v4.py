"""Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2 as data (Szegedy, Ioffe, Vanhoucke,
Alemi 2017, "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning").

A module is a tuple of branches; a branch is a tuple of `Conv`, `Pool` and `Fork` records applied
in order. Convolutions are followed by batch normalization and ReLU; "V" in the paper's figures is
`padding="valid"`, every other convolution keeps the size. Branch orders and the orientation of
the factorized 1x7/7x1 and 1x3/3x1 convolutions follow the authors' released code (as timm and
keras.applications port it) where the figures leave them open; parameter counts do not change.
"""

from typing import NamedTuple

from kerascnn.specs.variant import variant


class Conv(NamedTuple):
    filters: int
    kernel: int | tuple
    strides: int = 1
    padding: str = "same"
    kind: str = "conv"


class Pool(NamedTuple):
    type: str  # "max" or "avg"
    size: int = 3
    strides: int = 1
    padding: str = "same"
    kind: str = "pool"


class Fork(NamedTuple):
    """Convolutions applied side by side to one input, concatenated (Inception-C, figure 6)."""

    convs: tuple
    kind: str = "fork"


class Stage(NamedTuple):
    """`repeats` copies of a module named `{name}1` ... (just `{name}` when it occurs once).

    `scale` None is a plain concatenating module; a number makes it an Inception-ResNet block with
    that residual scale. `last_linear` makes the last copy scale 1.0 with no activation.
    """

    name: str
    branches: tuple
    repeats: int = 1
    scale: float | None = None
    last_linear: bool = False


class Network(NamedTuple):
    stem: tuple  # ((name, Conv | Pool | branches), ...), layer names `stem_{name}_...`
    stages: tuple
    final_conv: int | None = None  # a 1x1 convolution before the head (`conv7b`)
    bn_scale: bool = True  # whether batch normalization learns gamma


MAX_REDUCE = Pool("max", 3, 2, "valid")
AVG = Pool("avg", 3, 1, "same")

# Table 1: the filter bank sizes of Reduction-A (figure 7).
KLMN = {
    "inception_v4": (192, 224, 256, 384),
    "inception_resnet_v1": (192, 192, 256, 384),
    "inception_resnet_v2": (256, 256, 384, 384),
}


def reduction_a(k: int, l: int, m: int, n: int) -> tuple:  # noqa: E741 (the paper's letters)
    """Figure 7: 35x35 -> 17x17, output width n + m + input width."""
    return ((Conv(n, 3, 2, "valid"),), (Conv(k, 1), Conv(l, 3), Conv(m, 3, 2, "valid")),
            (MAX_REDUCE,))


# --- Inception-v4 (figures 3-6 and 8, overall schema figure 9) ---------------------------------
STEM_V4 = (  # figure 3: 299x299x3 -> 35x35x384
    ("conv1", Conv(32, 3, 2, "valid")),  # 149x149x32
    ("conv2", Conv(32, 3, 1, "valid")),  # 147x147x32
    ("conv3", Conv(64, 3)),  # 147x147x64
    ("mixed3a", ((MAX_REDUCE,), (Conv(96, 3, 2, "valid"),))),  # 73x73x160
    ("mixed4a", ((Conv(64, 1), Conv(96, 3, 1, "valid")),  # 71x71x192
                 (Conv(64, 1), Conv(64, (1, 7)), Conv(64, (7, 1)), Conv(96, 3, 1, "valid")))),
    ("mixed5a", ((Conv(192, 3, 2, "valid"),), (MAX_REDUCE,))),  # 35x35x384
)
INCEPTION_A = ((Conv(96, 1),), (Conv(64, 1), Conv(96, 3)),  # figure 4: 35x35x384
               (Conv(64, 1), Conv(96, 3), Conv(96, 3)), (AVG, Conv(96, 1)))
INCEPTION_B = ((Conv(384, 1),),  # figure 5: 17x17x1024
               (Conv(192, 1), Conv(224, (1, 7)), Conv(256, (7, 1))),
               (Conv(192, 1), Conv(192, (7, 1)), Conv(224, (1, 7)), Conv(224, (7, 1)),
                Conv(256, (1, 7))),
               (AVG, Conv(128, 1)))
INCEPTION_C = ((Conv(256, 1),),  # figure 6: 8x8x1536
               (Conv(384, 1), Fork((Conv(256, (1, 3)), Conv(256, (3, 1))))),
               (Conv(384, 1), Conv(448, (3, 1)), Conv(512, (1, 3)),
                Fork((Conv(256, (1, 3)), Conv(256, (3, 1))))),
               (AVG, Conv(256, 1)))
REDUCTION_B_V4 = ((Conv(192, 1), Conv(192, 3, 2, "valid")),  # figure 8: 8x8x1536
                  (Conv(256, 1), Conv(256, (1, 7)), Conv(320, (7, 1)), Conv(320, 3, 2, "valid")),
                  (MAX_REDUCE,))

# --- Inception-ResNet-v1 (figures 10-14, overall schema figure 15) -----------------------------
STEM_RESNET_V1 = (  # figure 14: 299x299x3 -> 35x35x256
    ("conv1", Conv(32, 3, 2, "valid")), ("conv2", Conv(32, 3, 1, "valid")), ("conv3", Conv(64, 3)),
    ("pool1", MAX_REDUCE), ("conv4", Conv(80, 1)), ("conv5", Conv(192, 3, 1, "valid")),
    ("conv6", Conv(256, 3, 2, "valid")),
)
RESNET_A_V1 = ((Conv(32, 1),), (Conv(32, 1), Conv(32, 3)),  # figure 10
               (Conv(32, 1), Conv(32, 3), Conv(32, 3)))
RESNET_B_V1 = ((Conv(128, 1),), (Conv(128, 1), Conv(128, (1, 7)), Conv(128, (7, 1))))  # figure 11
RESNET_C_V1 = ((Conv(192, 1),), (Conv(192, 1), Conv(192, (1, 3)), Conv(192, (3, 1))))  # figure 13
REDUCTION_B_RESNET_V1 = ((Conv(256, 1), Conv(384, 3, 2, "valid")),  # figure 12: 8x8x1792
                         (Conv(256, 1), Conv(256, 3, 2, "valid")),
                         (Conv(256, 1), Conv(256, 3), Conv(256, 3, 2, "valid")),
                         (MAX_REDUCE,))

# --- Inception-ResNet-v2 as keras.applications (and the authors' TF-slim code) builds it -------
# Its stem is Inception-v3's plus a 35x35 module ("mixed_5b", 320 maps) instead of figure 3's
# (384 maps), so the residual blocks are 320, 1088 and 2080 wide instead of figures 16-19's
# 384, 1154 and 2048, and a 1x1 convolution to 1536 maps precedes the pooling.
STEM_RESNET_V2 = (
    ("conv1", Conv(32, 3, 2, "valid")), ("conv2", Conv(32, 3, 1, "valid")), ("conv3", Conv(64, 3)),
    ("pool1", MAX_REDUCE), ("conv4", Conv(80, 1, 1, "valid")), ("conv5", Conv(192, 3, 1, "valid")),
    ("pool2", MAX_REDUCE),
    ("mixed5b", ((Conv(96, 1),), (Conv(48, 1), Conv(64, 5)),
                 (Conv(64, 1), Conv(96, 3), Conv(96, 3)), (AVG, Conv(64, 1)))),  # 35x35x320
)
RESNET_A_V2 = ((Conv(32, 1),), (Conv(32, 1), Conv(32, 3)),  # figure 16
               (Conv(32, 1), Conv(48, 3), Conv(64, 3)))
RESNET_B_V2 = ((Conv(192, 1),), (Conv(128, 1), Conv(160, (1, 7)), Conv(192, (7, 1))))  # fig. 17
RESNET_C_V2 = ((Conv(192, 1),), (Conv(192, 1), Conv(224, (1, 3)), Conv(256, (3, 1))))  # fig. 19
REDUCTION_B_RESNET_V2 = ((Conv(256, 1), Conv(384, 3, 2, "valid")),  # figure 18
                         (Conv(256, 1), Conv(288, 3, 2, "valid")),
                         (Conv(256, 1), Conv(288, 3), Conv(320, 3, 2, "valid")),
                         (MAX_REDUCE,))

# Residual scales: the paper uses 0.1 to 0.3 (section 3.3); these are the authors' code's.
NETWORKS = {
    "inception_v4": Network(
        stem=STEM_V4,
        stages=(
            Stage("inceptiona", INCEPTION_A, 4),
            Stage("reductiona", reduction_a(*KLMN["inception_v4"])),  # 17x17x1024
            Stage("inceptionb", INCEPTION_B, 7),
            Stage("reductionb", REDUCTION_B_V4),
            Stage("inceptionc", INCEPTION_C, 3),
        ),
    ),
    "inception_resnet_v1": Network(
        stem=STEM_RESNET_V1,
        stages=(
            Stage("inceptionresneta", RESNET_A_V1, 5, scale=0.17),
            Stage("reductiona", reduction_a(*KLMN["inception_resnet_v1"])),  # 17x17x896
            Stage("inceptionresnetb", RESNET_B_V1, 10, scale=0.1),
            Stage("reductionb", REDUCTION_B_RESNET_V1),
            Stage("inceptionresnetc", RESNET_C_V1, 5, scale=0.2),
        ),
        bn_scale=False,
    ),
    "inception_resnet_v2": Network(
        stem=STEM_RESNET_V2,
        stages=(
            Stage("inceptionresneta", RESNET_A_V2, 10, scale=0.17),
            Stage("reductiona", reduction_a(*KLMN["inception_resnet_v2"])),  # 17x17x1088
            Stage("inceptionresnetb", RESNET_B_V2, 20, scale=0.1),
            Stage("reductionb", REDUCTION_B_RESNET_V2),  # 8x8x2080
            Stage("inceptionresnetc", RESNET_C_V2, 10, scale=0.2, last_linear=True),
        ),
        final_conv=1536,
        bn_scale=False,
    ),
}

# Figures 9 and 15: "Dropout (keep 0.8)" before the softmax.
DROPOUT_RATE = 0.2

_PAPER = "Szegedy et al. 2017"
VARIANTS = {
    "inception_v4": variant(f"Inception-v4: pure inception modules A, B, C (figure 9, {_PAPER})",
                            variant="inception_v4"),
    "inception_resnet_v1": variant(f"Inception-ResNet-v1: residual inception blocks, the cost of "
                                   f"Inception-v3 (figure 15, {_PAPER})",
                                   variant="inception_resnet_v1"),
    "inception_resnet_v2": variant(f"Inception-ResNet-v2: residual inception blocks, the cost of "
                                   f"Inception-v4 (figure 15, {_PAPER})",
                                   variant="inception_resnet_v2"),
}
