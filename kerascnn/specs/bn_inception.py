"""BN-Inception as data: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training
by Reducing Internal Covariate Shift", ICML 2015, section 4.1 and figure 5 (its appendix).

GoogLeNet with batch normalization after every convolution, each 5x5 convolution replaced by two
3x3 convolutions ("double 3x3", up to 128 filters in the 28x28 modules), the 28x28 modules
widened, average or max pooling in each module as the figure says, stride-2 modules (3c, 4e) in
place of the max pooling layers between stages, no LRN and no dropout.
"""

from kerascnn.specs.inception_v4 import Conv, Pool
from kerascnn.specs.variant import variant

VARIANTS = {
    "bn_inception": variant("BN-Inception: GoogLeNet with batch normalization, double 3x3 for 5x5, "
                            "figure 5 (Ioffe & Szegedy 2015, Batch Normalization, ICML)"),
}

# Stem (figure 5): convolution 7x7/2 with 64 filters -> max pool 3x3/2 -> convolution 3x3/1 with
# a "#3x3 reduce" of 64 and 192 filters -> max pool 3x3/2.
CONV1 = (64, 7, 2)
CONV2_REDUCE = 64
CONV2 = 192
POOL = (3, 2)

# Figure 5, one row per module: (#1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3,
# pool, pool proj). Pool "max" with projection None is "max + pass through" with stride 2.
INCEPTION = {
    "inception3a": (64, 64, 64, 64, 96, "avg", 32),
    "inception3b": (64, 64, 96, 64, 96, "avg", 64),
    "inception3c": (0, 128, 160, 64, 96, "max", None),  # stride 2: 28 -> 14
    "inception4a": (224, 64, 96, 96, 128, "avg", 128),
    "inception4b": (192, 96, 128, 96, 128, "avg", 128),
    "inception4c": (160, 128, 160, 128, 160, "avg", 128),
    "inception4d": (96, 128, 192, 160, 192, "avg", 128),
    "inception4e": (0, 128, 192, 192, 256, "max", None),  # stride 2: 14 -> 7
    "inception5a": (352, 192, 320, 160, 224, "avg", 128),
    "inception5b": (352, 192, 320, 192, 224, "max", 128),
}


def branches(row) -> tuple:
    """A figure 5 row as `blocks.inception.multi_branch` branches (1x1, 3x3, double 3x3, pool).

    The stride-2 modules have no 1x1 branch and pass the pooled input through unprojected; their
    3x3 and second double-3x3 convolutions take the stride.
    """
    ones, reduce3, threes, reduce_double, doubles, pool, proj = row
    if proj is None:
        return (
            (Conv(reduce3, 1), Conv(threes, 3, 2)),
            (Conv(reduce_double, 1), Conv(doubles, 3), Conv(doubles, 3, 2)),
            (Pool(pool, 3, 2),),
        )
    return (
        (Conv(ones, 1),),
        (Conv(reduce3, 1), Conv(threes, 3)),
        (Conv(reduce_double, 1), Conv(doubles, 3), Conv(doubles, 3)),
        (Pool(pool, 3, 1), Conv(proj, 1)),
    )
