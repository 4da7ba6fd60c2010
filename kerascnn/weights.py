"""Pretrained weights: fetching the files `kerascnn.weight_sources` declares, and loading them.

A model's `weights` argument is None, a tag registered for that model in
`kerascnn.weight_sources.SOURCES` (`"imagenet"`, `"torchvision"`, `"timm"`, `"bvlc"` ...), or the
path of a weights file:

- `.weights.h5`, legacy `.h5` or `.keras`: Keras files, kerascnn's own or keras.applications'
  (`kerascnn.applications_files`);
- `.pth`: a PyTorch state dict as torchvision publishes it (needs PyTorch);
- `.safetensors`: a state dict as timm publishes it on the Hugging Face hub (numpy only);
- `.caffemodel`: a BVLC Caffe model, read by `kerascnn.caffe`.

Downloads go through `keras.utils.get_file` into the Keras cache (`$KERAS_HOME/models`) and are
checked against the hash the source publishes (md5 or sha256 as keras.applications, the sha256
prefix of torchvision's file names, BVLC's sha1). A state dict or Caffe file is converted once:
the converted weights are cached beside the download as `<file>.<top|notop>.weights.h5`, so later
builds need neither PyTorch nor conversion.
"""

from __future__ import annotations

import hashlib
import os

import keras

from kerascnn import state_dicts
from kerascnn.applications_files import brief, load_keras_file, model_options
from kerascnn.conversion import assign_state_dict
from kerascnn.weight_sources import APPLICATIONS, SOURCES, WeightSource

__all__ = ["WeightSource", "SOURCES", "APPLICATIONS", "load_into", "select_source", "fetch",
           "preprocessing", "load_state_dict"]

_STATE_DICT_SUFFIXES = (".pth", ".pt", ".safetensors")


def preprocessing(name: str, source: str = "imagenet") -> str:
    """The input preparation mode the weights `source` of model `name` expect ("caffe" ...)."""
    return SOURCES[name][source][0].preprocessing


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
    if len(files) == 1 and files[0].format != "keras":
        return files[0]  # one file with the classifier, which a model without it leaves out
    options = model_options(model, common)
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


def cache_path(source: WeightSource) -> str:
    """Where `source`'s file lies in the Keras cache (where to place it by hand offline)."""
    home = _cache_dir() or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", source.file_name)


def _digest(path: str, algorithm: str) -> str:
    digest = hashlib.new("sha256" if algorithm == "sha256_prefix" else algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(path: str, source: WeightSource) -> None:
    """Hashes Keras' `get_file` cannot check: BVLC's sha1, torchvision's sha256 prefixes."""
    received = _digest(path, source.hash_algorithm)
    if not received.startswith(source.file_hash):
        raise ValueError(
            f"The hash does not match: {path} has {source.hash_algorithm} {received}, "
            f"{source.origin} publishes {source.file_hash}. Delete the file to download it again."
        )


def fetch(source: WeightSource) -> str:
    """Returns the local path of `source`, downloading it to the Keras cache and checking its hash.

    Raises:
        ValueError: If the file cannot be fetched (the message names the URL and the cache path
            to place it at by hand), or its hash differs from the published one.
    """
    keras_checks = source.file_hash and source.hash_algorithm in ("md5", "sha256")
    try:
        path = keras.utils.get_file(
            source.file_name,
            source.url,
            cache_subdir="models",
            file_hash=source.file_hash if keras_checks else None,
            hash_algorithm=source.hash_algorithm if keras_checks else "auto",
            cache_dir=_cache_dir(),
        )
    except Exception as error:  # get_file raises bare Exceptions for failed downloads
        raise ValueError(
            f"Could not fetch {source.file_name} from {source.url} ({error}). To work offline, "
            f"place the file at {cache_path(source)}"
            + (f" ({source.hash_algorithm} {source.file_hash})." if source.file_hash else ".")
        ) from error
    if source.file_hash and not keras_checks:
        _check_hash(path, source)
    return path


def load_state_dict(model: keras.Model, entry, path: str, common: dict) -> None:
    """Loads a `.pth` or `.safetensors` state dict into `model` (see `kerascnn.state_dicts`).

    Raises:
        ValueError: If the file cannot be read, the model has no known layout, or a tensor does
            not fit (naming the first one: name, expected and received shape).
    """
    layout = state_dicts.layout_for(entry.name, entry.family)
    names = {layer.name for layer in model.layers}
    if layout == "resnet" and "conv3_block1_3_conv" in names and tuple(
        model.get_layer("conv3_block1_1_conv").strides
    ) != (1, 1):
        raise ValueError(
            "PyTorch ResNets (torchvision, timm) stride in the bottleneck's 3x3 convolution: "
            "build with stride_at='3x3'. Received: stride_at='1x1'"
        )
    tensors = state_dicts.normalized(state_dicts.read_state_dict(path), layout)
    assign_state_dict(model, state_dicts.prefixes(model, layout), tensors,
                      bn_epsilon=state_dicts.LAYOUTS[layout][1],
                      ignore=state_dicts.ignored(layout, common["include_top"]))


def _load_caffe(model: keras.Model, entry, path: str, common: dict) -> None:
    # The one place a .caffemodel is handed over; kerascnn.caffe reads and converts it.
    caffe_files = [files[0] for files in SOURCES.get(entry.name, {}).values()
                   if files[0].format == "caffe"]
    if not caffe_files:
        raise ValueError(f"{entry.name!r} has no Caffe layout: no .caffemodel fits it")
    try:
        from kerascnn import caffe
    except ImportError as error:
        raise ValueError(
            f"reading {path} needs kerascnn.caffe, which cannot be imported ({error})"
        ) from error
    # The network the file was published for, by its file name: "bvlc_alexnet" ...
    caffe.load_caffemodel(model, path, caffe_files[0].file_name.rsplit(".", 1)[0])


def _load_path(model: keras.Model, entry, path: str, common: dict, *, published: bool) -> None:
    if path.endswith(".caffemodel"):
        _load_caffe(model, entry, path, common)
    elif path.endswith(_STATE_DICT_SUFFIXES):
        load_state_dict(model, entry, path, common)
    else:
        load_keras_file(model, entry, path, common, published=published)


def _converted_path(source: WeightSource, common: dict) -> str:
    return cache_path(source) + (".top" if common["include_top"] else ".notop") + ".weights.h5"


def _load_cached_conversion(model: keras.Model, source: WeightSource, common: dict) -> bool:
    """Loads the `.weights.h5` a first conversion cached, if there is one that fits."""
    converted = _converted_path(source, common)
    if not os.path.isfile(converted):
        return False
    try:
        model.load_weights(converted)
        return True
    except Exception:  # noqa: BLE001  (another build of the model: convert again)
        return False


def _save_conversion(model: keras.Model, source: WeightSource, common: dict) -> None:
    try:
        model.save_weights(_converted_path(source, common))
    except OSError:
        pass  # a read-only cache: the next build converts again


def load_into(model: keras.Model, entry, weights: str, common: dict) -> None:
    """Loads `weights` (a source tag or a file path) into the freshly built `model`.

    Args:
        model: The model `registry.build` just built.
        entry: Its `registry.ModelEntry`.
        weights: A tag of `SOURCES[entry.name]` or a file path.
        common: The validated common arguments (`num_classes`, `include_top`, `input_shape` ...).

    Raises:
        ValueError: If the source cannot serve the requested head or input, cannot be fetched, or
            the file does not fit the model.
    """
    if weights in SOURCES.get(entry.name, {}):
        source = select_source(entry.name, weights, model, common)
        if source.format != "keras" and _load_cached_conversion(model, source, common):
            return
        path, published = fetch(source), True
    else:
        path, published = weights, False
    try:
        _load_path(model, entry, path, common, published=published)
    except Exception as error:  # noqa: BLE001  (Keras and h5py raise several types for a misfit)
        raise ValueError(
            f"The weights file does not fit {entry.name!r} as built ({brief(error)}). "
            f"Received: weights={weights!r}"
        ) from error
    if published and source.format != "keras":
        _save_conversion(model, source, common)
