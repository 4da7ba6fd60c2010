"""What a run trained on, as a small record: enough to load the same data again.

A run's `config.json` keeps it under "data"; the run report reloads the validation split from it,
and `kerascnn.evaluate` recognizes the run's own data by it (and then scores the examples the run
held out, as it held them out). In-memory data (arrays, a `tf.data.Dataset`, a `DataBundle`) is
described by its kind only: it cannot be reloaded.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

__all__ = ["DataSpec"]

# The `kerascnn.data.load` arguments a spec records, other than the data itself.
_LOAD_OPTIONS = ("split", "validation_split", "seed", "data_dir", "normalization", "num_classes")


def _kind(data) -> str:
    import tensorflow as tf

    from kerascnn.data import DataBundle

    if isinstance(data, DataBundle):
        return "DataBundle"
    return "tf.data.Dataset" if isinstance(data, tf.data.Dataset) else "arrays"


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A run's data: its name or path and the `kerascnn.data.load` options it was loaded with.

    Attributes:
        source: The tensorflow-datasets name or path as given, or None for in-memory data.
        kind: "name or path", or for in-memory data "arrays", "tf.data.Dataset" or "DataBundle".
        path: The absolute path, when `source` is an existing path (so that it is found again
            from any working directory).
        split, validation_split, seed, data_dir, normalization, num_classes: `load` options;
            None leaves `load`'s default.
        data: The data object itself (not recorded; what a run loads).
    """

    source: str | None
    kind: str = "name or path"
    path: str | None = None
    split: Any = None
    validation_split: float | None = None
    seed: int | None = None
    data_dir: str | None = None
    normalization: str | None = None
    num_classes: int | None = None
    data: Any = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, data, **options) -> DataSpec:
        """The spec of `data` (anything `kerascnn.data.load` takes, or a `DataBundle`)."""
        unknown = sorted(set(options) - set(_LOAD_OPTIONS))
        if unknown:
            raise TypeError(f"DataSpec records only {', '.join(_LOAD_OPTIONS)}. "
                            f"Received: {unknown[0]}={options[unknown[0]]!r}")
        if isinstance(data, (str, os.PathLike)):
            source = os.fspath(data)
            path = os.path.abspath(source) if os.path.exists(source) else None
            return cls(source, path=path, data=data, **options)
        return cls(None, kind=_kind(data), data=data, **options)

    @classmethod
    def from_config(cls, config: dict) -> DataSpec | None:
        """The spec a run's config records under "data" (None when it records none).

        Besides the dict `to_dict` writes, a bare name or path is read as the source, and a dict
        may name the source "name" instead of "data" (hand-written configs)."""
        recorded = config.get("data") if isinstance(config, dict) else None
        if isinstance(recorded, str):
            return cls(recorded)
        if not isinstance(recorded, dict):
            return None
        source = next((recorded[k] for k in ("data", "name") if isinstance(recorded.get(k), str)),
                      None)
        options = {k: recorded.get(k) for k in _LOAD_OPTIONS}
        if isinstance(options["split"], list):  # JSON has no tuples.
            options["split"] = tuple(options["split"])
        kind = recorded.get("kind") or ("name or path" if source else "unknown")
        return cls(source, kind=kind, path=recorded.get("path"), **options)

    @property
    def reloadable(self) -> bool:
        """Whether the data can be loaded again from the record (a name or path)."""
        return self.source is not None

    def to_dict(self) -> dict:
        """The JSON-ready record: "data" (the source), "kind", "path" and the load options."""
        record = {"data": self.source, "kind": self.kind}
        if self.path:
            record["path"] = self.path
        return {**record, **{k: getattr(self, k) for k in _LOAD_OPTIONS}}

    def location(self) -> str | None:
        """Where to load from: the absolute path while it exists, else the source as given."""
        return self.path if self.path and os.path.exists(self.path) else self.source

    def load_options(self) -> dict:
        """The recorded `kerascnn.data.load` options that differ from its defaults."""
        return {k: getattr(self, k) for k in _LOAD_OPTIONS if getattr(self, k) is not None}

    def load(self, *, input_shape, batch_size: int = 32, **overrides):
        """Loads the data (the object itself, else from the record) with the recorded options;
        `overrides` adds or replaces `kerascnn.data.load` arguments.

        Raises:
            ValueError: For in-memory data that is no longer at hand.
        """
        from kerascnn.data import DataBundle, load

        if isinstance(self.data, DataBundle):
            return self.data
        data = self.data if self.data is not None else self.location()
        if data is None:
            raise ValueError("The run's data was in memory and is not saved; pass data=(x, y) "
                             f"or a tf.data.Dataset. Received: data={self.kind}")
        options = {**self.load_options(), **overrides}
        return load(data, input_shape=tuple(input_shape), batch_size=batch_size, **options)

    def is_same(self, data) -> bool:
        """Whether `data` names this spec's data: the same name, or the same file-system entry
        (given relative or absolute)."""
        if self.source is None or not isinstance(data, (str, os.PathLike)):
            return False
        data = os.fspath(data)
        if not os.path.exists(data):
            return data == self.source
        return any(isinstance(candidate, str) and os.path.exists(candidate)
                   and os.path.samefile(candidate, data) for candidate in (self.path, self.source))
