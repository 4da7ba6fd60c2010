"""Pretrained weights: sources as data, and loading with checks.

A model's `weights` argument is None, the name of a source registered for that model
(`"imagenet"`), or the path of a weights file: `.weights.h5` as `model.save_weights` writes it, a
legacy `.h5` as keras.applications publishes it, or a `.keras` file whose weights are taken.

`SOURCES` lists, for every architecture keras.applications also ships, the very files it
downloads: same URL, same cache file name (under `$KERAS_HOME/models`, so a cache Keras already
filled is used), and the hash keras.applications publishes (md5, its choice; MobileNet's files have
none). A file of a keras.applications model, downloaded or written by
`keras.applications.X(...).save_weights(path)`, is loaded into that model built with
`weights=None`, and its variables are then copied into the kerascnn model layer by layer (matched
by name, or in order when the names differ), converting where the layouts differ
(`kerascnn.conversion`): a convolution bias that the paper-faithful model does not have is folded
into the moving mean of the batch norm that follows (BN(Wx + b) with mean m is BN(Wx) with mean
m - b, exactly), and a different batch-norm epsilon into the moving variance. The loaded model must
then compute what keras.applications computes on a random input, or loading fails.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import warnings

import h5py
import keras
import numpy as np

from kerascnn.conversion import transfer, weighted_layers

__all__ = ["WeightSource", "SOURCES", "APPLICATIONS", "load_into", "select_source", "fetch",
           "preprocessing"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """One published weights file and what it can serve.

    Attributes:
        url: Download location, the one keras.applications uses.
        file_hash: The hash keras.applications publishes: md5 (32 hex digits) or sha256 (64), or
            None where it publishes none.
        include_top: Whether the file holds the classifier (which fixes `num_classes`).
        num_classes: Classes of the file's classifier (1000 for ImageNet; also recorded for
            files without the classifier, for the message when a model asks for more).
        preprocessing: How inputs must be prepared: "caffe" (BGR, mean subtracted), "tf" (scaled
            to [-1, 1]) or "torch" (scaled to [0, 1], then standardised), the modes of
            `keras.applications.imagenet_utils.preprocess_input`.
        application: The keras.applications constructor whose variables the file holds.
        options: `(name, value)` pairs the model must have for this file (MobileNet's `alpha`,
            `depth_multiplier` and input `rows`).
    """

    url: str
    file_hash: str | None
    include_top: bool
    num_classes: int
    preprocessing: str
    application: str
    options: tuple = ()

    @property
    def file_name(self) -> str:
        """The cache file name: the URL's last component, as keras.applications names it."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def hash_algorithm(self) -> str:
        return "sha256" if self.file_hash and len(self.file_hash) == 64 else "md5"


# model name: (keras.applications constructor, URL folder, file stem, md5 of the file with the
# classifier, md5 of the file without it, preprocessing). From keras/src/applications/*.py.
_PUBLISHED = {
    "vgg16": ("VGG16", "vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
              "6d6bbae143d832006294945121d1f1fc", "caffe"),
    "vgg19": ("VGG19", "vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
              "253f8cb515780f3b799900260a226db6", "caffe"),
    "resnet50": ("ResNet50", "resnet", "resnet50", "2cb95161c43110f7111970584f804107",
                 "4d473c1dd8becc155b73f8504c6f6626", "caffe"),
    "resnet101": ("ResNet101", "resnet", "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                  "88cf7a10940856eca736dc7b7e228a21", "caffe"),
    "resnet152": ("ResNet152", "resnet", "resnet152", "100835be76be38e30d865e96f2aaae62",
                  "ee4c566cf9a93f14d82f913c2dc6dd0c", "caffe"),
    "resnet50v2": ("ResNet50V2", "resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0",
                   "fac2f116257151a9d068a22e544a4917", "tf"),
    "resnet101v2": ("ResNet101V2", "resnet", "resnet101v2", "6343647c601c52e1368623803854d971",
                    "c0ed64b8031c3730f411d2eb4eea35b5", "tf"),
    "resnet152v2": ("ResNet152V2", "resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9",
                    "ed17cf2e0169df9d443503ef94b23b33", "tf"),
    "densenet121": ("DenseNet121", "densenet", "densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                    "30ee3e1110167f948a6b9946edeeb738", "torch"),
    "densenet169": ("DenseNet169", "densenet", "densenet169", "d699b8f76981ab1b30698df4c175e90b",
                    "b8c4d4c20dd625c148057b9ff1c1176b", "torch"),
    "densenet201": ("DenseNet201", "densenet", "densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                    "c13680b51ded0fb44dff2d8f86ac8bb1", "torch"),
    "inception_resnet_v2": ("InceptionResNetV2", "inception_resnet_v2", "inception_resnet_v2",
                            "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4",
                            "tf"),
}
# MobileNet: one file per width multiplier and input size (keras/src/applications/mobilenet.py).
_MOBILENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_MOBILENET_ROWS = (128, 160, 192, 224)


def _published(name, application, folder, stem, top_hash, notop_hash, mode):
    stem = f"{_BASE}{folder}/{stem}_weights_tf_dim_ordering_tf_kernels"
    return (
        WeightSource(f"{stem}.h5", top_hash, True, 1000, mode, application),
        WeightSource(f"{stem}_notop.h5", notop_hash, False, 1000, mode, application),
    )


def _mobilenet_files():
    files = []
    for alpha, text in _MOBILENET_ALPHAS.items():
        for rows in _MOBILENET_ROWS:
            options = (("alpha", alpha), ("depth_multiplier", 1), ("rows", rows))
            for top, suffix in ((True, "tf.h5"), (False, "tf_no_top.h5")):
                url = f"{_BASE}mobilenet/mobilenet_{text}_{rows}_{suffix}"
                files.append(WeightSource(url, None, top, 1000, "tf", "MobileNet", options))
    return tuple(files)


# {model name: {source name: the files of that source}}.
SOURCES: dict[str, dict[str, tuple[WeightSource, ...]]] = {
    **{name: {"imagenet": _published(name, *row)} for name, row in _PUBLISHED.items()},
    "mobilenet": {"imagenet": _mobilenet_files()},
}

# kerascnn models that hold the variables of a keras.applications model, for loading its files.
APPLICATIONS = {name: row[0] for name, row in _PUBLISHED.items()} | {"mobilenet": "MobileNet"}


def preprocessing(name: str, source: str = "imagenet") -> str:
    """The input preparation mode the weights `source` of model `name` expect ("caffe" ...)."""
    return SOURCES[name][source][0].preprocessing


def _model_options(model: keras.Model, common: dict) -> dict:
    """The properties a variant-specific file must match (MobileNet's width, depth, rows)."""
    options = {}
    layers = {layer.name: layer for layer in model.layers}
    if "conv1_conv" in layers and any(
        isinstance(layer, keras.layers.DepthwiseConv2D) for layer in model.layers
    ):
        options["alpha"] = layers["conv1_conv"].filters / 32
        options["depth_multiplier"] = next(
            layer.depth_multiplier for layer in model.layers
            if isinstance(layer, keras.layers.DepthwiseConv2D)
        )
        rows, cols = common["input_shape"][:2]
        # keras.applications falls back to the 224 file for other sizes, as here.
        options["rows"] = rows if rows == cols and rows in _MOBILENET_ROWS else 224
    return options


def select_source(name: str, source: str, model: keras.Model, common: dict) -> WeightSource:
    """The file of `source` that fits `model` as built with the `common` arguments.

    Raises:
        ValueError: If no file fits: a classifier of another width, other input channels, or a
            variant (MobileNet's alpha) that was not published.
    """
    files = SOURCES.get(name, {}).get(source)
    if not files:
        raise ValueError(
            f"No download location is recorded for weights={source!r} of {name!r}. "
            f"Received: weights={source!r}"
        )
    include_top, num_classes = common["include_top"], common["num_classes"]
    if include_top and num_classes != files[0].num_classes:
        raise ValueError(
            f"weights={source!r} of {name!r} holds a {files[0].num_classes}-class classifier: "
            f"build with num_classes={files[0].num_classes}, or with include_top=False to load "
            f"the features only and add your own head. Received: num_classes={num_classes}, "
            f"include_top=True"
        )
    if common["input_shape"][-1] != 3:
        raise ValueError(
            f"weights={source!r} of {name!r} expects RGB inputs (3 channels). "
            f"Received: input_shape={tuple(common['input_shape'])!r}"
        )
    options = _model_options(model, common)
    for candidate in files:
        if candidate.include_top == include_top and all(
            options.get(key) == value for key, value in candidate.options
        ):
            return candidate
    published = sorted({tuple(o for o in f.options if o[0] != "rows") for f in files})
    raise ValueError(
        f"weights={source!r} of {name!r} were published only for {published}. "
        f"Received: {dict((k, v) for k, v in options.items() if k != 'rows')}"
    )


def _cache_dir() -> str | None:
    # KERAS_HOME is read when called, so a cache prepared after Keras was imported is found too.
    return os.environ.get("KERAS_HOME")


def fetch(source: WeightSource) -> str:
    """Returns the local path of `source`, downloading it to the Keras cache and checking its hash.

    Raises:
        ValueError: If the file cannot be fetched, or its hash differs from the published one.
    """
    try:
        return keras.utils.get_file(
            source.file_name,
            source.url,
            cache_subdir="models",
            file_hash=source.file_hash,
            hash_algorithm=source.hash_algorithm if source.file_hash else "auto",
            cache_dir=_cache_dir(),
        )
    except Exception as error:  # get_file raises bare Exceptions for failed downloads
        home = _cache_dir() or "~/.keras"
        raise ValueError(
            f"Could not fetch {source.file_name} from {source.url} ({error}). To work offline, "
            f"place the file at {os.path.join(home, 'models', source.file_name)}"
            + (f" ({source.hash_algorithm} {source.file_hash})." if source.file_hash else ".")
        ) from error


# --- loading files ------------------------------------------------------------------------------


def _is_new_format(path: str) -> bool:
    with h5py.File(path, "r") as f:
        return "layers" in f and "layer_names" not in f.attrs and "model_weights" not in f


def _keras_readable(path: str, scratch: str) -> str:
    """`path`, or a link to it with the suffix Keras dispatches on (`.weights.h5` vs `.h5`)."""
    if path.endswith(".weights.h5") or not path.endswith((".h5", ".hdf5")):
        return path
    if not _is_new_format(path):
        return path
    link = os.path.join(scratch, "file.weights.h5")
    os.symlink(os.path.abspath(path), link)
    return link


def _file_classes(path: str) -> int | None:
    """Width of the classifier a keras.applications weights file holds (its last layer)."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in group.attrs:
            for layer in reversed([n.decode() if isinstance(n, bytes) else n
                                   for n in group.attrs["layer_names"]]):
                names = group[layer].attrs.get("weight_names", [])
                if len(names):
                    last = names[-1].decode() if isinstance(names[-1], bytes) else names[-1]
                    return int(group[layer][last].shape[-1])
            return None
        layers = f.get("layers", {})
        # Keras names the entries by class and creation count: the classifier is the last Dense
        # (`dense`, `dense_1` ...) or, in MobileNet, the last convolution.
        for kind in ("dense", "conv2d"):
            found = [re.fullmatch(kind + r"(?:_(\d+))?", key) for key in layers]
            found = [(int(m.group(1) or 0), m.group(0)) for m in found if m]
            if found:
                return int(layers[max(found)[1]]["vars"]["1"].shape[-1])
    return None


def _application(application: str, model: keras.Model, common: dict, *, include_top: bool,
                 classes: int):
    shape = tuple(model.input_shape[1:])
    kwargs = dict(weights=None, include_top=include_top, input_shape=shape, classes=classes,
                  pooling=None if include_top else common["pooling"],
                  classifier_activation=common["classifier_activation"] if include_top else None)
    options = _model_options(model, common)
    if application == "MobileNet":
        kwargs.update(alpha=options["alpha"], depth_multiplier=options["depth_multiplier"])
    return getattr(keras.applications, application)(**kwargs)


def _quiet_load(target: keras.Model, path: str) -> None:
    # Keras warns once per container it cannot match; a failed attempt is reported as one error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target.load_weights(path)


def _reference(application: str, path: str, model: keras.Model, common: dict):
    """The keras.applications model with the file loaded, with the same head as `model`."""
    include_top = common["include_top"]
    reference = _application(application, model, common, include_top=include_top,
                             classes=common["num_classes"])
    try:
        _quiet_load(reference, path)
        return reference
    except Exception as error:  # noqa: BLE001  (Keras raises several types for a misfit)
        classes = None if include_top else _file_classes(path)
        if not classes:
            raise error
    # A file with a classifier, for features only: load it whole, keep the backbone.
    full = _application(application, model, common, include_top=True, classes=classes)
    _quiet_load(full, path)
    for target, source in zip(weighted_layers(reference), weighted_layers(full)):
        target.set_weights(source.get_weights())
    return reference


def _load_file(model: keras.Model, entry, path: str, common: dict, *, published: bool) -> None:
    if path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False)
        try:
            model.set_weights(source.get_weights())
        except ValueError:
            # Another layout of the same network (a saved keras.applications model).
            transfer(source, model)
            if (source.input_shape, source.output_shape) == (model.input_shape,
                                                              model.output_shape):
                _check_outputs(source, model, source.name)
        return
    application = APPLICATIONS.get(entry.name)
    with tempfile.TemporaryDirectory() as scratch:
        readable = _keras_readable(path, scratch)
        if application is None:
            _quiet_load(model, readable)
            return
        try:
            reference = _reference(application, readable, model, common)
        except Exception as error:  # noqa: BLE001  (Keras raises several types for a misfit)
            if published:
                raise ValueError(
                    f"as a keras.applications.{application} file: {_brief(error)}"
                ) from error
            # Not a keras.applications file: perhaps one kerascnn wrote for this model.
            try:
                _quiet_load(model, readable)
            except Exception as own_error:  # noqa: BLE001
                raise ValueError(
                    f"as a keras.applications.{application} file: {_brief(error)}; as a file "
                    f"of this model: {_brief(own_error)}"
                ) from own_error
            return
        transfer(reference, model)
        _check_outputs(reference, model, f"keras.applications.{application}")


def load_into(model: keras.Model, entry, weights: str, common: dict) -> None:
    """Loads `weights` (a source name or a file path) into the freshly built `model`.

    Args:
        model: The model `registry.build` just built.
        entry: Its `registry.ModelEntry`.
        weights: A source name (`"imagenet"`) or a file path.
        common: The validated common arguments (`num_classes`, `include_top`, `input_shape` ...).

    Raises:
        ValueError: If the source cannot serve the requested head or input, cannot be fetched, or
            the file does not fit the model.
    """
    if weights in entry.weights or weights in SOURCES.get(entry.name, {}):
        path, published = fetch(select_source(entry.name, weights, model, common)), True
    else:
        path, published = weights, False
    try:
        _load_file(model, entry, path, common, published=published)
    except Exception as error:  # noqa: BLE001  (Keras and h5py raise several types for a misfit)
        raise ValueError(
            f"The weights file does not fit {entry.name!r} as built ({_brief(error)}). "
            f"Received: weights={weights!r}"
        ) from error


def _brief(error: Exception) -> str:
    # Keras' loading errors can print whole variables; the first lines say what went wrong.
    lines = [line for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:2])
    return text if len(text) <= 400 else text[:400] + " ..."


def _check_outputs(reference: keras.Model, model: keras.Model, reference_name: str) -> None:
    """Both models must compute the same function on a random input: the largest difference at
    most 1e-4 of the largest output (and of 1), else the model was built with other options."""
    shape = tuple(d if d is not None else 96 for d in model.input_shape[1:])
    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(1, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    actual = keras.ops.convert_to_numpy(model(x, training=False))
    if expected.shape != actual.shape:
        raise ValueError(f"outputs of shape {actual.shape}, {reference_name}'s {expected.shape}")
    difference = float(np.max(np.abs(expected - actual)))
    if difference > 1e-4 * max(1.0, float(np.max(np.abs(expected)))):
        raise ValueError(
            f"with the weights loaded, the model computes other outputs than {reference_name} "
            f"(max abs difference {difference:.3g}): the model was built with options its "
            f"layout does not share"
        )
