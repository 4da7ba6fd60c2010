"""BVLC's Caffe replications of AlexNet and GoogLeNet, written from kerascnn's own specs.

The BVLC model zoo (BVLC/caffe, `models/bvlc_alexnet/` and `models/bvlc_googlenet/`: readme.md,
deploy.prototxt) publishes `bvlc_alexnet.caffemodel`, the two-tower AlexNet with grouped
conv2/conv4/conv5 and LRN, and `bvlc_googlenet.caffemodel`, GoogLeNet with 5x5 branches and LRN.
This module lays out those networks as Caffe layers — the names, order and parameters of the
deploy.prototxt files — from `kerascnn.specs.alexnet` and `kerascnn.specs.googlenet`, so the
deploy prototxt, the blob shapes of a weights file and the Caffe layer that fills each kerascnn
layer all come from one plan. Caffe's shape rules (caffe.proto, `ConvolutionParameter` and
`PoolingParameter`): a convolution gives floor((n + 2 pad - k) / s) + 1, a pooling
ceil((n + 2 pad - k) / s) + 1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from kerascnn import weight_sources
from kerascnn.specs import alexnet as alexnet_spec
from kerascnn.specs import googlenet as googlenet_spec

__all__ = ["NETWORKS", "BUILD_OPTIONS", "CaffeLayer", "network", "deploy_prototxt", "blob_shapes",
           "check_build"]

# The BVLC networks by weight-source name: (Caffe net name, kerascnn model, input (C, H, W)).
NETWORKS = {
    "bvlc_alexnet": ("AlexNet", "alexnet", (3, 227, 227)),
    "bvlc_googlenet": ("GoogleNet", "googlenet", (3, 224, 224)),
}

# The build options under which the kerascnn model computes what Caffe computes, as the weight
# sources declare them: BVLC's LRN constants (k=1) in AlexNet; symmetric conv1 padding and
# ceil-mode pooling in GoogLeNet.
BUILD_OPTIONS = {source: weight_sources.build_options(model, "bvlc")
                 for source, (_, model, _) in NETWORKS.items()}

# The layer settings that show those options in a built model: {layer: {config key: value}}.
_SIGNATURES = {
    "bvlc_alexnet": {f"{layer.name}_lrn": alexnet_spec.LRN_CONSTANTS["caffe"]
                     for layer in alexnet_spec.CONVOLUTIONS if layer.lrn},
    "bvlc_googlenet": {name: {"padding": "valid"} for name in (
        "conv1_conv", "conv1_pool", "conv2_pool",
        *(f"{module}_pre_pool" for module in googlenet_spec.POOL_BEFORE))},
}


class CaffeLayer(NamedTuple):
    """One layer of a Caffe network.

    Attributes:
        name: Caffe layer name ("conv1", "inception_3a/1x1").
        type: Caffe layer type ("Convolution", "InnerProduct", "Pooling" ...).
        bottoms: Input blob names.
        top: Output blob name (the input's, for in-place ReLU and Dropout).
        params: `(message, ((field, value), ...))`, e.g. `("convolution_param", ...)`, or None.
        keras: The kerascnn layer that holds this layer's blobs, or None.
        blobs: Caffe blob shapes: weights (O, I / group, kh, kw) or (out, in), then bias.
    """

    name: str
    type: str
    bottoms: tuple
    top: str
    params: tuple | None = None
    keras: str | None = None
    blobs: tuple = ()


class _Net:
    """Appends Caffe layers and tracks each blob's (C, H, W)."""

    def __init__(self, input_chw):
        self.layers = [CaffeLayer("data", "Input", (), "data",
                                  ("input_param", (("shape", (10, *input_chw)),)))]
        self.shapes = {"data": tuple(input_chw)}

    def _add(self, layer, shape):
        self.layers.append(layer)
        self.shapes[layer.top] = shape
        return layer.top

    def conv(self, name, bottom, filters, kernel, *, stride=1, pad=0, group=1, keras=None,
             relu=None):
        channels, height, width = self.shapes[bottom]
        fields = (("num_output", filters), ("pad", pad), ("kernel_size", kernel),
                  ("stride", stride), ("group", group))
        size = [(n + 2 * pad - kernel) // stride + 1 for n in (height, width)]
        top = self._add(CaffeLayer(name, "Convolution", (bottom,), name,
                                   ("convolution_param", fields), keras,
                                   ((filters, channels // group, kernel, kernel), (filters,))),
                        (filters, *size))
        if relu:
            self._add(CaffeLayer(relu, "ReLU", (top,), top), self.shapes[top])
        return top

    def pool(self, name, bottom, method, kernel, stride, pad=0):
        channels, height, width = self.shapes[bottom]
        size = [math.ceil((n + 2 * pad - kernel) / stride) + 1 for n in (height, width)]
        fields = (("pool", method), ("kernel_size", kernel), ("stride", stride), ("pad", pad))
        return self._add(CaffeLayer(name, "Pooling", (bottom,), name, ("pooling_param", fields)),
                         (channels, *size))

    def lrn(self, name, bottom, constants):
        # Caffe's alpha is divided by local_size; kerascnn's multiplies the plain sum.
        size = constants["n"]
        fields = (("local_size", size), ("alpha", constants["alpha"] * size),
                  ("beta", constants["beta"]))
        if constants["k"] != 1.0:
            fields += (("k", constants["k"]),)
        return self._add(CaffeLayer(name, "LRN", (bottom,), name, ("lrn_param", fields)),
                         self.shapes[bottom])

    def concat(self, name, bottoms):
        channels = sum(self.shapes[b][0] for b in bottoms)
        return self._add(CaffeLayer(name, "Concat", tuple(bottoms), name),
                         (channels, *self.shapes[bottoms[0]][1:]))

    def fc(self, name, bottom, units, *, keras, relu=None, dropout=None):
        inputs = math.prod(self.shapes[bottom])  # Caffe flattens a map in C, H, W order
        top = self._add(CaffeLayer(name, "InnerProduct", (bottom,), name,
                                   ("inner_product_param", (("num_output", units),)), keras,
                                   ((units, inputs), (units,))), (units,))
        if relu:
            self._add(CaffeLayer(relu, "ReLU", (top,), top), (units,))
        if dropout:
            self.dropout(dropout[0], top, dropout[1])
        return top

    def dropout(self, name, bottom, ratio):
        self._add(CaffeLayer(name, "Dropout", (bottom,), bottom,
                             ("dropout_param", (("dropout_ratio", ratio),))), self.shapes[bottom])

    def softmax(self, bottom):
        return self._add(CaffeLayer("prob", "Softmax", (bottom,), "prob"), self.shapes[bottom])


def _alexnet(input_chw, num_classes):
    net, x = _Net(input_chw), "data"
    for index, layer in enumerate(alexnet_spec.CONVOLUTIONS, start=1):
        pad = layer.kernel // 2 if layer.padding == "same" else 0
        x = net.conv(layer.name, x, layer.filters, layer.kernel, stride=layer.strides, pad=pad,
                     group=layer.tower_groups, keras=f"{layer.name}_conv", relu=f"relu{index}")
        if layer.lrn:
            x = net.lrn(f"norm{index}", x, alexnet_spec.LRN_CONSTANTS["caffe"])
        if layer.pool:
            x = net.pool(f"pool{index}", x, "MAX", alexnet_spec.POOL_SIZE,
                         alexnet_spec.POOL_STRIDES)
    for group in alexnet_spec.FULLY_CONNECTED:
        index = group[2:]
        x = net.fc(group, x, alexnet_spec.FC_UNITS, keras=f"{group}_dense", relu=f"relu{index}",
                   dropout=(f"drop{index}", alexnet_spec.DROPOUT_RATE))
    x = net.fc("fc8", x, num_classes, keras="predictions")
    return net, x


def _inception(net, x, module, widths):
    ones, reduce3, threes, reduce5, fives, pool_proj = widths
    caffe = module.replace("inception", "inception_")

    def conv(bottom, suffix, filters, kernel):
        return net.conv(f"{caffe}/{suffix}", bottom, filters, kernel, pad=kernel // 2,
                        keras=f"{module}_{suffix}_conv", relu=f"{caffe}/relu_{suffix}")

    branches = [
        conv(x, "1x1", ones, 1),
        conv(conv(x, "3x3_reduce", reduce3, 1), "3x3", threes, 3),
        conv(conv(x, "5x5_reduce", reduce5, 1), "5x5", fives, 5),
        conv(net.pool(f"{caffe}/pool", x, "MAX", 3, 1, 1), "pool_proj", pool_proj, 1),
    ]
    return net.concat(f"{caffe}/output", branches)


def _auxiliary(net, x, index, num_classes):
    """The training-time classifier `loss{index}` (train_val.prototxt), on top of 4a or 4d."""
    x = net.pool(f"loss{index}/ave_pool", x, "AVE", *googlenet_spec.AUX_POOL)
    x = net.conv(f"loss{index}/conv", x, googlenet_spec.AUX_CONV, 1, keras=f"aux{index}_conv",
                 relu=f"loss{index}/relu_conv")
    x = net.fc(f"loss{index}/fc", x, googlenet_spec.AUX_UNITS, keras=f"aux{index}_fc",
               relu=f"loss{index}/relu_fc",
               dropout=(f"loss{index}/drop_fc", googlenet_spec.AUX_DROPOUT_RATE))
    return net.fc(f"loss{index}/classifier", x, num_classes, keras=f"aux{index}_predictions")


def _googlenet(input_chw, num_classes, auxiliary=False):
    net = _Net(input_chw)
    filters, kernel, stride = googlenet_spec.CONV1
    pool, pool_stride = googlenet_spec.POOL
    lrn = googlenet_spec.LRN
    x = net.conv("conv1/7x7_s2", "data", filters, kernel, stride=stride, pad=kernel // 2,
                 keras="conv1_conv", relu="conv1/relu_7x7")
    x = net.lrn("pool1/norm1", net.pool("pool1/3x3_s2", x, "MAX", pool, pool_stride), lrn)
    x = net.conv("conv2/3x3_reduce", x, googlenet_spec.CONV2_REDUCE, 1,
                 keras="conv2_reduce_conv", relu="conv2/relu_3x3_reduce")
    x = net.conv("conv2/3x3", x, googlenet_spec.CONV2, 3, pad=1, keras="conv2_conv",
                 relu="conv2/relu_3x3")
    x = net.pool("pool2/3x3_s2", net.lrn("conv2/norm2", x, lrn), "MAX", pool, pool_stride)
    heads = []
    for module, widths in googlenet_spec.INCEPTION.items():
        if module in googlenet_spec.POOL_BEFORE:
            stage = int(module[len("inception")])
            x = net.pool(f"pool{stage - 1}/3x3_s2", x, "MAX", pool, pool_stride)
        x = _inception(net, x, module, widths)
        if auxiliary and module in googlenet_spec.AUX_AFTER:
            heads.append((x, googlenet_spec.AUX_AFTER.index(module) + 1))
    size = net.shapes[x][1]
    x = net.pool(f"pool5/{size}x{size}_s1", x, "AVE", size, 1)
    net.dropout(f"pool5/drop_{size}x{size}_s1", x, googlenet_spec.DROPOUT_RATE)
    x = net.fc("loss3/classifier", x, num_classes, keras="predictions")
    for bottom, index in heads:
        _auxiliary(net, bottom, index, num_classes)
    return net, x


def network(source: str, input_shape: tuple | None = None, num_classes: int = 1000, *,
            auxiliary: bool = False) -> list:
    """The Caffe layers of a BVLC network, in deploy.prototxt order.

    Args:
        source: "bvlc_alexnet" or "bvlc_googlenet".
        input_shape: Keras input shape (H, W, C); default BVLC's (227 or 224, RGB).
        num_classes: Width of the classifier (default 1000).
        auxiliary: GoogLeNet only: append the auxiliary classifiers `loss1/*`, `loss2/*` of
            train_val.prototxt, which the published weights file also holds.

    Returns:
        A list of `CaffeLayer`.

    Raises:
        ValueError: For an unknown `source`.
    """
    if source not in NETWORKS:
        raise ValueError(f"source must be one of {list(NETWORKS)}. Received: source={source!r}")
    chw = NETWORKS[source][2] if input_shape is None else (
        input_shape[2], input_shape[0], input_shape[1])
    if source == "bvlc_alexnet":
        net, top = _alexnet(chw, num_classes)
    else:
        net, top = _googlenet(chw, num_classes, auxiliary)
    net.softmax(top)
    return net.layers


def check_build(model, source: str) -> None:
    """Checks that `model` was built with `BUILD_OPTIONS[source]`.

    Raises:
        ValueError: Naming the option, and the first layer whose settings differ from Caffe's.
    """
    for layer_name, settings in _SIGNATURES[source].items():
        try:
            config = model.get_layer(layer_name).get_config()
        except ValueError:
            config = {}
        for key, value in settings.items():
            if config.get(key) != value:
                options = ", ".join(f"{k}={v!r}" for k, v in BUILD_OPTIONS[source].items())
                raise ValueError(
                    f"{source} needs {NETWORKS[source][1]!r} built with {options}. Received: "
                    f"a model whose layer {layer_name!r} has {key}={config.get(key)!r}"
                )


def blob_shapes(source: str, input_shape: tuple | None = None, num_classes: int = 1000, *,
                auxiliary: bool = False) -> dict:
    """`{Caffe layer name: [blob shapes]}` of a BVLC network's weights file (see `network`)."""
    return {layer.name: list(layer.blobs)
            for layer in network(source, input_shape, num_classes, auxiliary=auxiliary)
            if layer.blobs}


_DEFAULTS = {"pad": 0, "stride": 1, "group": 1}


def _field(key, value) -> str:
    if key == "shape":
        return "shape: { " + " ".join(f"dim: {d}" for d in value) + " }"
    if isinstance(value, str) and value.isupper():
        return f"{key}: {value}"  # an enum value (MAX, AVE)
    return f"{key}: {value:g}" if isinstance(value, float) else f"{key}: {value}"


def deploy_prototxt(source: str, input_shape: tuple | None = None, num_classes: int = 1000, *,
                    auxiliary: bool = False) -> str:
    """The deploy.prototxt of a BVLC network, as text.

    Layer names, types, connections and parameters are those of BVLC/caffe's
    `models/bvlc_alexnet/deploy.prototxt` and `models/bvlc_googlenet/deploy.prototxt` (without
    their training-only `param` and filler settings); arguments as for `network`.
    """
    layers = network(source, input_shape, num_classes, auxiliary=auxiliary)
    lines = [f'name: "{NETWORKS[source][0]}"']
    for layer in layers:
        lines += ["layer {", f'  name: "{layer.name}"', f'  type: "{layer.type}"']
        lines += [f'  bottom: "{bottom}"' for bottom in layer.bottoms]
        lines.append(f'  top: "{layer.top}"')
        if layer.params:
            message, fields = layer.params
            kept = [_field(k, v) for k, v in fields if _DEFAULTS.get(k) != v]
            if message == "input_param":  # one line, as BVLC writes it
                lines.append(f"  {message} {{ {kept[0]} }}")
            else:
                lines += [f"  {message} {{", *[f"    {field}" for field in kept], "  }"]
        lines.append("}")
    return "\n".join(lines) + "\n"
