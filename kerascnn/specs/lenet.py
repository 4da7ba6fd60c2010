"""LeNet-5 as data (LeCun et al. 1998, "Gradient-Based Learning Applied to Document Recognition").

The modern form (cs231n, the CS5242 notes) and the paper's form share the 6-16-120-84 widths.
"""

from kerascnn.specs.variant import variant

# (filters, kernel) of the convolutions; each is followed by 2x2 subsampling except the last.
CONVOLUTIONS = ((6, 5), (16, 5))
FULLY_CONNECTED = (120, 84)

# The paper's Table I: the S2 maps (rows 0-5) that each C3 map (index 0-15) combines. Six maps see
# three contiguous maps, six see four contiguous, three see four discontinuous, one sees all six.
C3_INPUTS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def c3_connection_table() -> list[list[int]]:
    """Table I as a 6 x 16 matrix of 0/1 flags, `[input_map][output_map]`."""
    return [[int(i in inputs) for inputs in C3_INPUTS] for i in range(6)]


# The F6/RBF prototypes: "stylized images of the corresponding character class drawn on a 7x12
# bitmap" (section II.B), '#' = +1 and '.' = -1, so each code has 84 components.
DIGIT_BITMAPS = {
    0: ("..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#",
        "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."),
    1: ("...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...",
        "...#...", "...#...", "...#...", "...#...", "...#...", ".#####."),
    2: (".#####.", "#.....#", "......#", "......#", ".....#.", "....#..",
        "...#...", "..#....", ".#.....", "#......", "#......", "#######"),
    3: (".#####.", "#.....#", "......#", "......#", "......#", "..####.",
        "......#", "......#", "......#", "......#", "#.....#", ".#####."),
    4: ("....##.", "...#.#.", "..#..#.", ".#...#.", "#....#.", "#....#.",
        "#######", ".....#.", ".....#.", ".....#.", ".....#.", ".....#."),
    5: ("#######", "#......", "#......", "#......", "######.", "......#",
        "......#", "......#", "......#", "......#", "#.....#", ".#####."),
    6: ("..####.", ".#.....", "#......", "#......", "######.", "#.....#",
        "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#####."),
    7: ("#######", "......#", "......#", ".....#.", ".....#.", "....#..",
        "....#..", "...#...", "...#...", "..#....", "..#....", "..#...."),
    8: (".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".#####.",
        "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#####."),
    9: (".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".######",
        "......#", "......#", "......#", ".....#.", "....#..", ".###..."),
}

_PAPER = "LeCun et al. 1998"
MODERN_VARIANTS = {
    "lenet5": variant("LeNet-5 in its common modern form: [CONV-POOL-CONV-POOL-FC-FC-FC] "
                      "(cs231n, CS5242 notes)"),
}
PAPER_VARIANTS = {
    "lenet5_1998": variant(f"LeNet-5 faithful to the paper: C3's connection table, trainable "
                           f"subsampling, RBF outputs ({_PAPER}, section II.B)"),
}
