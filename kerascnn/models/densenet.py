"""DenseNet: the ImageNet DenseNet-BC of Table 1 and the CIFAR DenseNet and DenseNet-BC.

G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger, "Densely Connected Convolutional Networks",
CVPR 2017 (arXiv:1608.06993).
"""

from __future__ import annotations

import keras

from kerascnn import validation
from kerascnn.blocks import dense
from kerascnn.heads import classifier_head
from kerascnn.registry import register_family
from kerascnn.specs import densenet as spec

__all__ = ["densenet"]

STEMS = ("imagenet", "cifar")


def _validate(depth, growth_rate, bottleneck, compression, stem, dropout_rate):
    validation.check_choice(stem, "stem", STEMS)
    if growth_rate is not None:
        validation.check_positive_int(growth_rate, "growth_rate")
    validation.check_bool(bottleneck, "bottleneck")
    validation.check_number(compression, "compression", low=0.0, high=1.0, include_low=False)
    validation.check_fraction(dropout_rate, "dropout_rate")
    if stem == "imagenet":
        validation.check_choice(depth, "depth", tuple(spec.IMAGENET))
    elif isinstance(depth, bool) or not isinstance(depth, int) or depth > spec.MAX_CIFAR_DEPTH or (
        spec.cifar_layers_per_block(depth, bottleneck) is None
    ):
        form = "6n + 4 (with bottleneck)" if bottleneck else "3n + 4 (without bottleneck)"
        raise ValueError(
            f"depth of a CIFAR DenseNet must be {form} for an integer n >= 1, at most "
            f"{spec.MAX_CIFAR_DEPTH}. "
            f"Received: depth={depth!r}"
        )


def _stem(x, spec_: spec.DenseNetSpec):
    if spec_.stem == "cifar":
        # The CIFAR networks start with a bare 3x3 convolution: dense layers begin with BN-ReLU.
        return keras.layers.Conv2D(
            spec_.initial_features, 3, padding="same", use_bias=False,
            kernel_initializer=dense.conv_initializer(), name="conv1_conv",
        )(x)
    stem = spec.IMAGENET_STEM
    # Explicit symmetric padding, as in the authors' Torch code: "same" would pad 7x7/2 unevenly.
    x = keras.layers.ZeroPadding2D(stem["kernel"] // 2, name="conv1_pad")(x)
    x = keras.layers.Conv2D(
        spec_.initial_features, stem["kernel"], strides=stem["strides"], use_bias=False,
        kernel_initializer=dense.conv_initializer(), name="conv1_conv",
    )(x)
    x = dense.bn_relu(x, "conv1")
    # Zero padding equals -inf padding here: the maps are non-negative after the ReLU.
    x = keras.layers.ZeroPadding2D(stem["pool"] // 2, name="conv1_pool_pad")(x)
    return keras.layers.MaxPooling2D(stem["pool"], strides=2, name="conv1_pool")(x)


@register_family("densenet", spec.VARIANTS, input_shape=(224, 224, 3))
def densenet(
    num_classes: int = 1000,
    input_shape: tuple = (224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "densenet121",
    depth: int = 121,
    growth_rate: int | None = None,
    bottleneck: bool = True,
    compression: float = spec.COMPRESSION,
    stem: str = "imagenet",
    dropout_rate: float = 0.0,
) -> keras.Model:
    """DenseNet (Huang et al. 2017): dense blocks joined by transition layers.

    ImageNet (`stem="imagenet"`, Table 1): `densenet121`, `densenet161` (k = 48), `densenet169`,
    `densenet201`, `densenet264`, all DenseNet-BC: a 7x7/2 convolution and 3x3/2 max pooling, four
    dense blocks with bottlenecks, transitions with compression 0.5, BN-ReLU, global average
    pooling and the classifier. Trainable parameters 7,978,856 / 28,681,000 / 14,149,480 /
    20,013,928 for 121/161/169/201, as torchvision counts them. `densenet121/169/201` have
    keras.applications' DenseNet121/169/201 layers and variables, in the same order (its layer
    names, its batch-norm epsilon 1.001e-5), so its weight files load unchanged. Table 1's
    DenseNet-264 blocks (6, 12, 64, 48) hold 265 convolution and fully connected layers, one more
    than the name; the table's blocks are built as printed.

    CIFAR (`stem="cifar"`, section 3 and Table 2): three dense blocks of n layers on 32x32, 16x16
    and 8x8 maps after one 3x3 convolution with 16 maps (2k for DenseNet-BC).
    `densenet40_k12` is DenseNet (L=40, k=12; 1.0M parameters in the paper) and
    `densenet_bc100_k12` is DenseNet-BC (L=100, k=12; 0.8M). Other rows of Table 2 are one
    argument away: `build("densenet40_k12", depth=100, growth_rate=24)` is DenseNet (L=100, k=24).

    Layer names: `conv1_*` (stem), `conv2` ... (dense blocks: `conv2_block1_1_conv`), `pool2` ...
    (transitions), the final BN-ReLU in the last block's group (`conv5_bn`), then the head.

    Deviations: none in the graph. Convolutions have no bias (the authors' code drops them, as
    batch norm follows); they are initialised as in the authors' code (normal, std
    sqrt(2 / (k*k*out))). The paper's dropout (0.2 after each convolution but the first, for the
    CIFAR runs without augmentation) is the `dropout_rate` option, off by default.

    Args:
        num_classes: Classes of the classifier (default 1000; 10 for the CIFAR names).
        input_shape: Default (224, 224, 3); (32, 32, 3) for the CIFAR names.
        include_top: Whether to add global average pooling and `predictions`.
        pooling: With `include_top=False`: None, "avg" or "max".
        classifier_activation: Activation of `predictions` (None for logits).
        name: Model name.
        depth: L, the number of convolution and fully connected layers: 121, 161, 169, 201 or 264
            for ImageNet; 3n + 4 (6n + 4 with bottleneck) for CIFAR.
        growth_rate: k (default: Table 1's value for ImageNet; the variant's for CIFAR).
        bottleneck: 1x1 bottleneck convolutions producing 4k maps ("B", default True).
        compression: theta in (0, 1], the fraction of maps a transition keeps ("C", default 0.5).
        stem: "imagenet" (default) or "cifar".
        dropout_rate: Dropout after every convolution but the first (default 0).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: For an unknown depth, a CIFAR depth that does not fit 3n + 4 / 6n + 4, or an
            invalid growth rate, compression, stem or dropout rate.
    """
    _validate(depth, growth_rate, bottleneck, compression, stem, dropout_rate)
    if stem == "imagenet":
        arch = spec.imagenet_spec(depth, growth_rate)
        arch = spec.DenseNetSpec(arch.blocks, arch.growth_rate, arch.initial_features,
                                 bottleneck, compression, stem)
    else:
        arch = spec.cifar_spec(depth, growth_rate or 12, bottleneck, compression)
    inputs = keras.Input(shape=input_shape, name="input")
    x = _stem(inputs, arch)
    options = {"bottleneck": arch.bottleneck, "dropout_rate": dropout_rate}
    last = len(arch.blocks) + 1
    for stage, layers in enumerate(arch.blocks, start=2):
        x = dense.dense_block(x, layers, arch.growth_rate, name=f"conv{stage}", **options)
        if stage < last:
            x = dense.transition(x, arch.compression, dropout_rate=dropout_rate,
                                 name=f"pool{stage}")
    x = dense.bn_relu(x, f"conv{last}")
    x = classifier_head(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                        classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)
