"""Safe loading of `.keras` files (`kerascnn.load`) and of what an export or a run directory holds.

`load(path)` reads a `.keras` file (or the one inside an export) with `safe_mode=True`, and
refuses a file that carries a `Lambda` layer, whose Python code would run on load, unless asked
not to.
"""

from __future__ import annotations

import json
import os
import zipfile

import keras

__all__ = ["load", "load_source", "METADATA_FILE"]

METADATA_FILE = "kerascnn.json"


def _find_keras_file(path) -> str:
    """The `.keras` file `path` names, or the one inside an export (newest version first)."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such model file or directory: {path}")
    candidates = [path]
    versions = sorted((d for d in os.listdir(path) if d.isdigit()), key=int, reverse=True)
    candidates += [os.path.join(path, v) for v in versions]
    for directory in candidates:
        files = sorted(f for f in os.listdir(directory) if f.endswith(".keras"))
        if files:
            return os.path.join(directory, files[0])
    raise FileNotFoundError(f"No .keras file in {path} (nor in its version directories).")


def _lambda_layers(config) -> list[str]:
    found = []
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda":
            found.append(str(config.get("config", {}).get("name", "?")))
        for value in config.values():
            found += _lambda_layers(value)
    elif isinstance(config, list):
        for value in config:
            found += _lambda_layers(value)
    return found


def load(path, safe_mode: bool = True, compile: bool = True) -> keras.Model:
    """Loads a `.keras` model, refusing `Lambda` layers unless `safe_mode=False`.

    A `Lambda` layer stores Python code that runs when the file is loaded; kerascnn's own models
    never contain one (their custom layers are registered classes), so a file that does is
    refused before anything in it is deserialized.

    Args:
        path: A `.keras` file, or an export directory holding one (`saved_models/NAME` or
            `saved_models/NAME/1`; the newest version is used).
        safe_mode: Refuse `Lambda` layers and unsafe deserialization (default True). Pass False only
            for files you trust.
        compile: Restore the training configuration (optimizer, loss) when the file has one.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: If there is no such file, or no `.keras` file in the directory.
        ValueError: If the file carries a `Lambda` layer and `safe_mode` is True, or is not a
            `.keras` archive.
    """
    if not isinstance(safe_mode, bool):
        raise ValueError(f"safe_mode must be True or False. Received: safe_mode={safe_mode!r}")
    file = _find_keras_file(path)
    try:
        with zipfile.ZipFile(file) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError):
        raise ValueError(f"Not a .keras model archive. Received: path={file!r}") from None
    lambdas = _lambda_layers(config)
    if lambdas and safe_mode:
        raise ValueError(
            f"Refusing to load {file}: it contains Lambda layer(s) {', '.join(lambdas)}, whose "
            "stored Python code would run on load. If you trust the file, pass safe_mode=False. "
            f"Received: safe_mode={safe_mode!r}"
        )
    import kerascnn.group_learning_rates  # noqa: F401  (registers the per-group optimizer)

    return keras.saving.load_model(file, safe_mode=safe_mode, compile=compile)


def _json_with_class_names(directory: str) -> dict:
    """The first JSON file in `directory` that records class names (run config, export metadata)."""
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name)) as f:
                content = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(content, dict) and content.get("class_names"):
            return content
    return {}


def load_source(source: str, safe_mode: bool = True) -> tuple[keras.Model, dict]:
    """Resolves what `kerascnn export` is given: a `.keras` file, a run or export directory, a name.

    A run directory's model is its best checkpoint if there is one (`best.keras`), else its last
    (`last.keras`), else any `.keras` file in it or in `checkpoints/`. A registered model name
    builds that architecture with fresh weights (useful to try serving before training).

    Args:
        source: Path or registered model name.
        safe_mode: Passed to `load`.

    Returns:
        `(model, info)`; `info` may hold the `class_names` and `normalization` found beside it.

    Raises:
        FileNotFoundError: If a path holds no model.
        ValueError: If `source` is neither a path nor a registered name.
    """
    source = os.fspath(source)
    if os.path.isfile(source):
        info = _json_with_class_names(os.path.dirname(source) or ".")
        return load(source, safe_mode=safe_mode), info
    if os.path.isdir(source):
        for directory in (source, os.path.join(source, "checkpoints")):
            if not os.path.isdir(directory):
                continue
            files = sorted(f for f in os.listdir(directory) if f.endswith(".keras"))
            for preferred in ("best.keras", "model.keras", "last.keras", *files):
                if preferred in files:
                    info = _json_with_class_names(source) or _json_with_class_names(directory)
                    return load(os.path.join(directory, preferred), safe_mode=safe_mode), info
        file = _find_keras_file(source)  # An export: BASE or BASE/VERSION.
        return load(file, safe_mode=safe_mode), _json_with_class_names(os.path.dirname(file))
    from kerascnn.registry import build, get_entry

    try:
        get_entry(source)
    except ValueError:
        raise ValueError(
            "Expected a .keras file, a run or export directory, or a registered model name. "
            f"Received: {source!r}"
        ) from None
    return build(source), {}

