"""The zip-code network of LeCun et al. (1989) as data: "Backpropagation Applied to Handwritten Zip
Code Recognition", Neural Computation 1(4), 541-551 (the network-design section).

16x16 input -> H1: 12 maps 8x8 (5x5 kernels, stride 2) -> H2: 12 maps 4x4 (5x5, stride 2, each
map reading 8 of H1's 12) -> H3: 30 units -> 10 outputs. Kernels are shared within a map; every
unit has its own bias. The paper's totals: 1,256 units, 64,660 connections, 9,760 independent
parameters.
"""

from kerascnn.specs.variant import variant

VARIANTS = {
    "lecun1989": variant("The zip-code network: H1 and H2 with shared kernels and per-unit biases, "
                         "H2 reading 8 of H1's 12 maps (LeCun et al. 1989, Neural Computation)"),
}

INPUT_SIZE = 16
# (maps, kernel, stride) of H1 and H2.
H1 = (12, 5, 2)
H2 = (12, 5, 2)
H3_UNITS = 30
# The paper does not say how the 5x5 windows meet the border; padding by 2 on every side gives the
# 8x8 and 4x4 maps at stride 2, as in Karpathy's reproduction (karpathy/lecun1989-repro, repro.py).
PADDING = 2

# "The eight maps in H1 on which a map in H2 takes its inputs are chosen according to a scheme that
# will not be described here." This is the block scheme of Karpathy's reproduction: H2 maps 0-3
# read H1 maps 0-7, maps 4-7 read 4-11, maps 8-11 read 0-3 and 8-11, so every H1 map feeds 8.
H2_INPUTS = (
    *[tuple(range(0, 8))] * 4,
    *[tuple(range(4, 12))] * 4,
    *[(0, 1, 2, 3, 8, 9, 10, 11)] * 4,
)


def h2_connection_table() -> list[list[int]]:
    """The H1 -> H2 scheme as a 12 x 12 matrix of 0/1 flags, `[h1_map][h2_map]`."""
    return [[int(i in inputs) for inputs in H2_INPUTS] for i in range(H1[0])]


# The paper draws initial weights uniformly in +-2.4 / F_i, F_i the fan-in of the unit.
INIT_SCALE = 2.4
