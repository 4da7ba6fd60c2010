"""GoogLeNet as data: Table 1 and figure 3 of Szegedy et al. (2015), "Going Deeper with
Convolutions".

The stem is conv1 (7x7/2, 64) -> max pool 3x3/2 -> LRN -> conv2 (1x1 64 "3x3 reduce", 3x3 192)
-> LRN -> max pool 3x3/2; then nine inception modules with max pooling 3x3/2 before 4a and 5a,
average pooling 7x7, dropout 40% and a linear layer.
"""

from kerascnn.specs.variant import variant

# Table 1, one row per inception module: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
INCEPTION = {
    "inception3a": (64, 96, 128, 16, 32, 32),  # 28x28x256
    "inception3b": (128, 128, 192, 32, 96, 64),  # 28x28x480
    "inception4a": (192, 96, 208, 16, 48, 64),  # 14x14x512
    "inception4b": (160, 112, 224, 24, 64, 64),  # 14x14x512
    "inception4c": (128, 128, 256, 24, 64, 64),  # 14x14x512
    "inception4d": (112, 144, 288, 32, 64, 64),  # 14x14x528
    "inception4e": (256, 160, 320, 32, 128, 128),  # 14x14x832
    "inception5a": (256, 160, 320, 32, 128, 128),  # 7x7x832
    "inception5b": (384, 192, 384, 48, 128, 128),  # 7x7x1024
}
# Modules preceded by max pooling 3x3/2 (Table 1's "max pool" rows between the stages).
POOL_BEFORE = ("inception4a", "inception5a")

# Stem widths (Table 1): conv1 7x7/2 with 64 filters; conv2 = "3x3 reduce" 64 then 3x3 192.
CONV1 = (64, 7, 2)
CONV2_REDUCE = 64
CONV2 = 192
POOL = (3, 2)

# The paper gives no LRN parameters; these are its authors' Caffe release (bvlc_googlenet:
# local_size 5, alpha 1e-4, beta 0.75, k 1). Caffe divides alpha by local_size, hence 2e-5 here.
LRN = {"k": 1.0, "n": 5, "alpha": 1e-4 / 5, "beta": 0.75}

DROPOUT_RATE = 0.4

# Section 5: auxiliary classifiers on top of 4a and 4d, each "an average pooling layer with 5x5
# filter size and stride 3", "a 1x1 convolution with 128 filters", "a fully connected layer with
# 1024 units", "a dropout layer with 70% ratio of dropped outputs" and a linear softmax layer;
# their losses are "added to the total loss with a discount weight (0.3)".
AUX_AFTER = ("inception4a", "inception4d")
AUX_POOL = (5, 3)
AUX_CONV = 128
AUX_UNITS = 1024
AUX_DROPOUT_RATE = 0.7
AUX_LOSS_WEIGHTS = (1.0, 0.3, 0.3)  # main, aux1, aux2

# torchvision's GoogLeNet (torchvision/models/googlenet.py), registered as `googlenet_torchvision`
# because its weights exist: batch norm (eps 0.001) after every bias-free convolution, no LRN,
# 3x3 convolutions in the "5x5" branch, 2x2/2 max pooling before 5a, dropout 0.2; conv1 padded
# by 3 and ceil-mode pooling, as `padding="caffe"` builds them.
TORCHVISION = {"five_kernel": 3, "bn_epsilon": 1e-3, "pool_before_5a": 2, "dropout_rate": 0.2}
LAYOUTS = ("paper", "torchvision")

VARIANTS = {
    "googlenet": variant("GoogLeNet, faithful to Table 1 and figure 3 (Szegedy et al. 2015)"),
    "googlenet_torchvision": variant("GoogLeNet in torchvision's layout (3x3 for 5x5, batch norm) "
                                     "for its weights (Szegedy et al. 2015)",
                                     layout="torchvision", padding="caffe",
                                     dropout_rate=TORCHVISION["dropout_rate"]),
}
