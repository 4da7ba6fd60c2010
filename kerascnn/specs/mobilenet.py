"""MobileNet v1 as data (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications", arXiv:1704.04861, 2017, Table 1).

A 3x3 convolution with stride 2, then 13 depthwise separable convolutions (a 3x3 depthwise
convolution with the listed stride, then a 1x1 pointwise convolution with the listed filters), each
convolution followed by batch norm and a ReLU; global average pooling and the classifier.
"""

from kerascnn.specs.variant import variant

# The first, full convolution: (filters, kernel, stride).
STEM = (32, 3, 2)

# (pointwise filters, depthwise stride) of the 13 depthwise separable blocks. Table 1 prints the
# last depthwise convolution as "s2" on a 7x7 input with a 7x7 output; the output size, and every
# implementation (TF-slim's, keras.applications'), make it stride 1.
BLOCKS = (
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

# Batch-norm epsilon of TF-slim's MobileNet and keras.applications' (the Keras default).
BN_EPSILON = 1e-3

# The official TF-slim classifier keeps 0.999 of the pooled features (dropout rate 0.001), as
# keras.applications does.
DROPOUT_RATE = 1e-3

VARIANTS = {
    "mobilenet": variant("MobileNet v1: a 3x3/2 convolution and 13 depthwise separable blocks, "
                         "width multiplier alpha (Howard et al. 2017, Table 1)"),
}
