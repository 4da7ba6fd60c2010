"""VGG as data: the ConvNet configuration table (Table 1) of Simonyan & Zisserman (2015), "Very
Deep Convolutional Networks for Large-Scale Image Recognition".

Each configuration is five stages, each a tuple of layers: `(kernel, filters)` for "conv<kernel>-
<filters>" (all stride 1, padded to keep the size) or `LRN`. Every stage ends with 2x2/2 max
pooling; the classifier is FC-4096, FC-4096, FC-1000 with dropout 0.5 after the first two.
"""

from kerascnn.specs.variant import variant

LRN = "lrn"  # A-LRN's local response normalization, with Krizhevsky et al.'s parameters (sec. 2.3)

CONFIGS = {
    "A": (((3, 64),), ((3, 128),), ((3, 256), (3, 256)), ((3, 512), (3, 512)),
          ((3, 512), (3, 512))),
    "A-LRN": (((3, 64), LRN), ((3, 128),), ((3, 256), (3, 256)), ((3, 512), (3, 512)),
              ((3, 512), (3, 512))),
    "B": (((3, 64), (3, 64)), ((3, 128), (3, 128)), ((3, 256), (3, 256)),
          ((3, 512), (3, 512)), ((3, 512), (3, 512))),
    # C adds a 1x1 convolution ("conv1-256", "conv1-512") at the end of stages 3 to 5.
    "C": (((3, 64), (3, 64)), ((3, 128), (3, 128)), ((3, 256), (3, 256), (1, 256)),
          ((3, 512), (3, 512), (1, 512)), ((3, 512), (3, 512), (1, 512))),
    "D": (((3, 64), (3, 64)), ((3, 128), (3, 128)), ((3, 256), (3, 256), (3, 256)),
          ((3, 512), (3, 512), (3, 512)), ((3, 512), (3, 512), (3, 512))),
    "E": (((3, 64), (3, 64)), ((3, 128), (3, 128)), ((3, 256),) * 4, ((3, 512),) * 4,
          ((3, 512),) * 4),
}

# Registered names. The "_bn" names add batch normalization (torchvision's `vgg*_bn`, not in the
# paper); "vgg16_c" is the 16-layer configuration with 1x1 convolutions.
_PAPER = "Simonyan & Zisserman 2015, Table 1"
_LAYERS = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
VARIANTS = {
    **{name: variant(f"VGG-{_LAYERS[config]}, configuration {config} ({_PAPER})", config=config,
                     batch_norm=False)
       for name, config in {"vgg11": "A", "vgg11_lrn": "A-LRN", "vgg13": "B", "vgg16_c": "C",
                            "vgg16": "D", "vgg19": "E"}.items()},
    **{name: variant(f"VGG-{_LAYERS[config]} (configuration {config}) with batch norm after "
                     f"each convolution, as torchvision", config=config, batch_norm=True)
       for name, config in {"vgg11_bn": "A", "vgg13_bn": "B", "vgg16_bn": "D",
                            "vgg19_bn": "E"}.items()},
}

LRN_PARAMETERS = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}
POOL_SIZE = 2
FC_UNITS = (4096, 4096)
DROPOUT_RATE = 0.5
# torchvision's BatchNorm2d defaults (eps 1e-5, momentum 0.1 = Keras momentum 0.9), so that its
# vgg*_bn weights carry over unchanged.
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
