"""Caffe `.caffemodel` files: reading and writing their blobs, and loading them into kerascnn.

A `.caffemodel` is a serialized `NetParameter` protobuf (BVLC/caffe, `src/caffe/proto/caffe.proto`).
Its layers are in `layer` (field 100, `LayerParameter`) or, in files of older Caffe versions, in
the deprecated `layers` (field 2, `V1LayerParameter`); each holds its
parameters as `BlobProto`s, shaped by `shape.dim` or by the legacy `num`, `channels`, `height`,
`width`. The message definition below declares only the fields needed here, with caffe.proto's
field numbers; the `protobuf` package parses the file and skips every other field.

Layouts: Caffe stores a convolution kernel as (O, I / group, kh, kw) — groups own contiguous
output and input channels, as in Keras — and an InnerProduct weight as (out, in) over its input
flattened in C, H, W order, as PyTorch does; `kerascnn.conversion` converts them to Keras's
(kh, kw, I / group, O) and (in, out) over an H, W, C flatten. The BVLC networks' layer plans are
in `kerascnn.bvlc`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from kerascnn.bvlc import NETWORKS, blob_shapes, check_build, deploy_prototxt, network
from kerascnn.conversion import assign_state_dict, state_dict_shapes, weighted_layers

__all__ = ["read_blobs", "write_caffemodel", "plan_caffemodel", "load_caffemodel",
           "deploy_prototxt", "blob_shapes", "preprocess_input", "MEAN_BGR"]

# BGR mean pixel: bvlc_googlenet's train_val.prototxt (`mean_value: 104 117 123`); bvlc_alexnet
# subtracts the mean image data/ilsvrc12/imagenet_mean.binaryproto, whose per-channel means round
# to the same values (BVLC/caffe examples/pycaffe/caffenet.py uses them for its AlexNet).
MEAN_BGR = (104.0, 117.0, 123.0)

_OPTIONAL, _REPEATED = 1, 3
_INT32, _INT64, _FLOAT, _DOUBLE, _STRING, _MESSAGE, _BYTES = 5, 3, 2, 1, 9, 11, 12

# message: (field name, number, label, type, message type) with caffe.proto's numbers.
_MESSAGES = {
    "BlobShape": (("dim", 1, _REPEATED, _INT64, None),),
    "BlobProto": (
        ("num", 1, _OPTIONAL, _INT32, None), ("channels", 2, _OPTIONAL, _INT32, None),
        ("height", 3, _OPTIONAL, _INT32, None), ("width", 4, _OPTIONAL, _INT32, None),
        ("data", 5, _REPEATED, _FLOAT, None), ("shape", 7, _OPTIONAL, _MESSAGE, "BlobShape"),
        ("double_data", 8, _REPEATED, _DOUBLE, None),
    ),
    "LayerParameter": (
        ("name", 1, _OPTIONAL, _STRING, None), ("type", 2, _OPTIONAL, _STRING, None),
        ("blobs", 7, _REPEATED, _MESSAGE, "BlobProto"),
    ),
    # V1's type is the enum `LayerType`, read here as its integer value.
    "V1LayerParameter": (
        ("name", 4, _OPTIONAL, _STRING, None), ("type", 5, _OPTIONAL, _INT32, None),
        ("blobs", 6, _REPEATED, _MESSAGE, "BlobProto"),
    ),
    "NetParameter": (
        ("name", 1, _OPTIONAL, _STRING, None),
        ("layers", 2, _REPEATED, _MESSAGE, "V1LayerParameter"),
        ("layer", 100, _REPEATED, _MESSAGE, "LayerParameter"),
    ),
}
# V1LayerParameter.LayerType values of the layers that hold blobs (caffe.proto).
_V1_TYPES = {"Convolution": 4, "InnerProduct": 14}


@functools.cache
def _net_class(writer: bool = False):
    """The `caffe.NetParameter` message class, built from `_MESSAGES` in a private pool.

    The writer's class declares `BlobProto.data` as bytes: a packed repeated float is encoded
    exactly as a bytes field of its little-endian values, which protobuf then copies in one piece
    instead of appending float by float (over 10x faster for AlexNet's 61 M parameters).
    """
    proto = descriptor_pb2.FileDescriptorProto(name="kerascnn/caffe.proto", package="caffe",
                                               syntax="proto2")
    for name, fields in _MESSAGES.items():
        declared = proto.message_type.add(name=name)
        for field, number, label, kind, type_name in fields:
            if writer and name == "BlobProto" and field == "data":
                label, kind = _OPTIONAL, _BYTES
            entry = declared.field.add(name=field, number=number, label=label, type=kind)
            if type_name:
                entry.type_name = f".caffe.{type_name}"
            if label == _REPEATED and kind not in (_MESSAGE, _STRING):
                entry.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))


def _blob_array(blob, path: str, layer: str, index: int) -> np.ndarray:
    if blob.HasField("shape"):
        shape = tuple(blob.shape.dim)
    else:
        shape = (blob.num, blob.channels, blob.height, blob.width)
    values = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    if values.size != math.prod(shape):
        raise ValueError(
            f"{path} is corrupt: blob {index} of layer {layer!r} holds {values.size} values for "
            f"shape {shape}"
        )
    return values.reshape(shape)


def read_blobs(path: str) -> dict:
    """Reads the parameters of every layer of a `.caffemodel` file.

    Args:
        path: A Caffe `NetParameter` file, with `layer` or legacy V1 `layers`.

    Returns:
        `{layer name: [np.float32 arrays]}` in file order, for the layers that hold blobs. Shapes
        are as stored: `shape.dim`, or the legacy 4-D (num, channels, height, width), in which
        Caffe wrote an InnerProduct weight as (1, 1, out, in).

    Raises:
        ValueError: One line naming `path` if the file is truncated, corrupt or holds no blobs.
    """
    with open(path, "rb") as file:
        content = file.read()
    net = _net_class()()
    try:
        net.ParseFromString(content)
    except message.DecodeError as error:
        raise ValueError(
            f"{path} is not a readable Caffe NetParameter: truncated or corrupt ({error})"
        ) from None
    blobs = {
        layer.name: [_blob_array(blob, path, layer.name, i) for i, blob in enumerate(layer.blobs)]
        for layer in (*net.layer, *net.layers) if len(layer.blobs)
    }
    if not blobs:
        raise ValueError(f"{path} holds no Caffe layer with parameters: truncated or not a "
                         f".caffemodel ({len(content)} bytes)")
    return blobs


def _fill(blob, array: np.ndarray, legacy: bool) -> None:
    if legacy:
        if array.ndim > 4:
            raise ValueError(f"legacy blobs have at most 4 axes. Received: shape {array.shape}")
        blob.num, blob.channels, blob.height, blob.width = (1,) * (4 - array.ndim) + array.shape
    else:
        blob.shape.dim.extend(array.shape)
    blob.data = np.ascontiguousarray(array, dtype="<f4").tobytes()


def write_caffemodel(path: str, blobs: dict, *, legacy: bool = False, name: str = "") -> None:
    """Writes `{layer name: [arrays]}` as a `.caffemodel` file.

    A layer whose first blob has 4 axes is written as a Convolution, 2 axes as an InnerProduct.

    Args:
        path: The file to write.
        blobs: Layer name -> list of arrays in Caffe's layout (see `blob_shapes`).
        legacy: Write V1 `layers` with legacy (num, channels, height, width) shapes, as older
            Caffe versions did, instead of `layer` with `shape.dim`.
        name: The net's name.
    """
    net = _net_class(writer=True)(name=name)
    for layer_name, arrays in blobs.items():
        arrays = [np.asarray(a) for a in arrays]
        kind = {4: "Convolution", 2: "InnerProduct"}.get(arrays[0].ndim if arrays else 0)
        layer = net.layers.add(name=layer_name) if legacy else net.layer.add(name=layer_name)
        if kind:
            layer.type = _V1_TYPES[kind] if legacy else kind
        for array in arrays:
            _fill(layer.blobs.add(), array, legacy)
    with open(path, "wb") as file:
        file.write(net.SerializeToString())


def _matches(received: tuple, expected: tuple) -> bool:
    # Caffe's Blob::ShapeEquals: a legacy 4-D shape equals the shape padded with leading ones.
    return received == expected or (
        len(received) == 4 > len(expected) and received == (1,) * (4 - len(expected)) + expected)


def plan_caffemodel(model, blobs: dict, source_name: str, path: str = "the file") -> tuple:
    """Matches the blobs read from a BVLC file to `model`'s layers.

    Touches nothing. Caffe's blobs are laid out as PyTorch's tensors (OIHW kernels, (out, in)
    weights over a C, H, W flatten), so the plan is a state dict for
    `kerascnn.conversion.assign_state_dict`, which converts the layouts: the blobs of Caffe layer
    `conv1` become `conv1.weight` and `conv1.bias`, legacy 4-D shapes reshaped to the true ones.

    Returns:
        `(prefixes, tensors)`: `{kerascnn layer: Caffe layer}` and `{key: array}`.

    Raises:
        ValueError: One line: `model` was not built with the source's `BUILD_OPTIONS`, or the
            first Caffe layer whose blobs are missing or differ from what `model` needs, with the
            expected and received shapes.
    """
    if source_name not in NETWORKS:
        raise ValueError(f"source_name must be one of {list(NETWORKS)}. "
                         f"Received: source_name={source_name!r}")
    check_build(model, source_name)
    input_shape = tuple(model.inputs[0].shape[1:])
    if None in input_shape:  # sizes then matter only to AlexNet's fc6, which needs them fixed
        input_shape = None
    counterparts = {layer.keras: layer.name for layer in
                    network(source_name, input_shape, auxiliary=True) if layer.keras}
    layers = weighted_layers(model)
    missing = [layer.name for layer in layers if layer.name not in counterparts]
    if missing:
        raise ValueError(f"{path}: {model.name!r} layer {missing[0]!r} has no counterpart in "
                         f"{source_name}")
    prefixes = {layer.name: counterparts[layer.name] for layer in layers}
    shapes, tensors = state_dict_shapes(model, prefixes), {}
    for layer in layers:
        name = prefixes[layer.name]
        keys = [key for key in shapes if key.rsplit(".", 1)[0] == name]
        expected = [shapes[key] for key in keys]
        received = [tuple(a.shape) for a in blobs.get(name, [])]
        if len(received) != len(expected) or not all(map(_matches, received, expected)):
            shown = received if name in blobs else "none: the file has no such layer"
            raise ValueError(
                f"{path} does not fit {model.name!r} as {source_name}: Caffe layer {name!r} "
                f"(kerascnn {layer.name!r}): expected {expected}, received {shown}"
            )
        tensors.update({key: array.reshape(shape)
                        for key, array, shape in zip(keys, blobs[name], expected)})
    return prefixes, tensors


def load_caffemodel(model, path: str, source_name: str) -> None:
    """Loads a BVLC `.caffemodel` into a kerascnn model built with the source's options.

    `bvlc_alexnet` fits `alexnet` built with `lrn="caffe"`; `bvlc_googlenet` fits `googlenet`
    built with `padding="caffe"` (with `aux_logits=True`, the auxiliary classifiers `loss1/*`,
    `loss2/*` of the file are loaded too). The file's layers the model lacks are ignored; every
    layer of the model with variables must find its blobs. Inputs are BGR minus `MEAN_BGR`
    (`preprocess_input`).

    Args:
        model: The built kerascnn model.
        path: The `.caffemodel` file.
        source_name: "bvlc_alexnet" or "bvlc_googlenet".

    Raises:
        ValueError: One line: the file is unreadable, or the first tensor that does not fit.
    """
    prefixes, tensors = plan_caffemodel(model, read_blobs(path), source_name, path)
    assign_state_dict(model, prefixes, tensors, bn_epsilon=0.0)


def preprocess_input(images) -> np.ndarray:
    """RGB images in [0, 255], channels last, as the BVLC models expect them: BGR minus `MEAN_BGR`.

    The published accuracies are those of a center crop of 227x227 (AlexNet) or 224x224
    (GoogLeNet) pixels (the models' readme.md and deploy.prototxt files).
    """
    images = np.asarray(images, dtype=np.float32)
    return images[..., ::-1] - np.asarray(MEAN_BGR, dtype=np.float32)
