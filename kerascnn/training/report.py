"""The run report: what a finished (or running) training run looks like, as PNGs and one HTML page.

`report(run_dir)` reads a run directory — `history.csv` (the columns Keras's `CSVLogger` writes;
`history.json` by phase in fine-tuning directories written before fine-tuning became a run like
any other), the best/last `.keras` checkpoints and the resolved config JSON with the class names
and the data spec (`dataspec.DataSpec`, to reload the validation split) — and draws:

- the learning curves: loss, top-1 accuracy and learning rate per epoch;
- the confusion matrix on the validation data, with class names;
- a grid of the worst-classified validation images (lowest probability given to the true class);
  both on the training images, unaugmented, for a run that held nothing out (where they show
  what the model has not learnt, and wrong labels);
- the first convolution layer's filters as images, the view of Krizhevsky et al., "ImageNet
  Classification with Deep Convolutional Neural Networks", NIPS 2012, Figure 3.

The numbers (confusion matrix, worst examples) are plain numpy, computed here; the pictures are
drawn in `report_figures.py`, headless (matplotlib's Agg canvas: no display needed).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import glob
import html
import json
import os
from typing import Any, Iterator

import numpy as np

from kerascnn.training import report_figures as figures
from kerascnn.training.report_figures import filter_mosaic

__all__ = ["RunReport", "report", "read_history", "confusion_matrix", "filter_mosaic"]

# Config entries the page's summary table repeats, when the run recorded them.
_CONFIG_SUMMARY = ("model", "status", "epochs", "batch_size", "learning_rate", "message")
_FIGURES = (
    ("learning_curves", "Learning curves"),
    ("confusion_matrix", "Confusion matrix ({scored_on} images)"),
    ("worst_examples", "Worst-classified {scored_on} images"),
    ("conv1_filters", "First convolution layer's filters"),
)
# Without validation data the report judges the model on at most this many training images.
MAX_TRAINING_IMAGES = 10_000
TRAINING_IMAGES_NOTE = (
    "No images were held out for validation: the confusion matrix and the worst examples are on "
    "{images}, which show what the model has not learnt and wrong labels, not how it does on new "
    "images; score it on other images with kerascnn evaluate RUN --data FOLDER.")
UNAUGMENTED = "the training images (unaugmented)"
# A prepared DataBundle is judged on its own training batches, whatever its pipeline does to them.
AS_PREPARED = "the given DataBundle's training batches, as its pipeline yields them"


@dataclasses.dataclass
class RunReport:
    """What `report` wrote, and the numbers behind the pictures."""

    html: str
    figures: dict[str, str]
    class_names: list[str]
    confusion: np.ndarray | None = None
    top1: float | None = None
    scored_on: str = "validation"  # Or "training", for a run that held nothing out.
    worst: list[dict] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


# --- reading a run directory --------------------------------------------------------------------


def read_history(path: str) -> dict[str, np.ndarray]:
    """Reads a `CSVLogger` file into {column: float array}; non-numeric cells become NaN, and a
    column with no number at all is left out (Keras's logger adds `val_` columns of "NA" to a
    run without validation data)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {}
    for key in (rows[0].keys() if rows else ()):
        values = []
        for row in rows:
            try:
                values.append(float(row[key]))
            except (TypeError, ValueError):
                values.append(float("nan"))
        if not np.isnan(values).all():
            columns[key] = np.asarray(values)
    return columns


def _phase_history(path: str) -> dict[str, np.ndarray]:
    """A fine-tuning run's `history.json` ({phase: {column: values}}), phases one after the other
    as one history; a column that a phase did not log is NaN there."""
    with open(path) as handle:
        phases = [h for h in json.load(handle).values() if isinstance(h, dict) and h]
    lengths = [max(len(v) for v in h.values()) for h in phases]
    keys = sorted({k for h in phases for k in h})
    columns = {k: np.concatenate([np.asarray(h.get(k, [np.nan] * n), dtype=float)
                                  for h, n in zip(phases, lengths)]) for k in keys}
    return {"epoch": np.arange(sum(lengths), dtype=float), **columns} if phases else {}


def _run_history(run_dir: str) -> dict[str, np.ndarray]:
    """The run's per-epoch logs: `history.csv` (train), else `history.json` (fine_tune), else {}."""
    csv_path, json_path = (os.path.join(run_dir, f"history.{ext}") for ext in ("csv", "json"))
    if os.path.isfile(csv_path) and os.path.getsize(csv_path) > 0:
        return read_history(csv_path)
    try:
        return _phase_history(json_path) if os.path.isfile(json_path) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _class_names(config: dict) -> list | None:
    """The class names a run's config records: at its top level (kerascnn's runs and searches),
    else beside its data spec (hand-written configs)."""
    data = config.get("data")
    return config.get("class_names") or (data.get("class_names") if isinstance(data, dict)
                                         else None)


def _read_config(run_dir: str) -> dict:
    """`config.json`, else the first JSON file that holds class names, else {}."""
    paths = [os.path.join(run_dir, "config.json")] + sorted(glob.glob(os.path.join(run_dir, "*.json")))
    for path in filter(os.path.isfile, paths):
        try:
            with open(path) as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and (path == paths[0] or _class_names(config)):
            return config
    return {}


def _find_checkpoint(run_dir: str) -> str | None:
    """The best checkpoint if the run kept one, else the last, else any `.keras` file."""
    paths = sorted(glob.glob(os.path.join(run_dir, "**", "*.keras"), recursive=True))
    for word in ("best", "last"):
        named = [p for p in paths if word in os.path.basename(p)]
        if named:
            return named[0]
    return paths[0] if paths else None


# --- the numbers ---------------------------------------------------------------------------------


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j]: examples of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels, int), np.asarray(predictions, int)), 1)
    return counts


def _first_conv_kernel(model) -> tuple[str, np.ndarray] | None:
    from kerascnn.geometry import leaf_layers

    for name, layer in leaf_layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) == 4:
            return name, np.asarray(kernel)
    return None


def _main_output(outputs: Any) -> Any:
    """The classifier output of a model with auxiliary heads (GoogLeNet) or just one output."""
    if isinstance(outputs, dict):
        return outputs.get("predictions", next(iter(outputs.values())))
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def _batches(data: Any, batch_size: int, input_rank: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images, integer labels) numpy batches from an (x, y) pair or a tf.data.Dataset."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = np.asarray(data[0]), np.asarray(data[1])
        pairs = ((images[i:i + batch_size], labels[i:i + batch_size])
                 for i in range(0, len(images), batch_size))
    else:
        spec = data.element_spec
        image_spec = spec[0] if isinstance(spec, tuple) else spec["image"]
        if image_spec.shape.rank == input_rank - 1:
            data = data.batch(batch_size)
        pairs = (
            (item[0], item[1]) if isinstance(item, tuple) else (item["image"], item["label"])
            for item in data.as_numpy_iterator()
        )
    for x, y in pairs:
        y = np.asarray(y)
        yield np.asarray(x), (y.argmax(axis=-1) if y.ndim > 1 else y.reshape(-1)).astype(int)


def _evaluate(model, data: Any, batch_size: int, keep: int) -> dict:
    """Labels, predictions and the `keep` examples with the lowest true-class probability."""
    labels, predictions, worst = [], [], []
    for x, y in _batches(data, batch_size, len(model.inputs[0].shape)):
        probs = np.asarray(_main_output(model.predict_on_batch(x)))
        labels.append(y)
        predictions.append(probs.argmax(axis=-1))
        true_prob = probs[np.arange(len(y)), y]
        for i in np.argsort(true_prob)[:keep]:
            worst.append({"image": x[i], "label": int(y[i]), "prediction": int(probs[i].argmax()),
                          "true_probability": float(true_prob[i]),
                          "predicted_probability": float(probs[i].max())})
        worst = sorted(worst, key=lambda item: item["true_probability"])[:keep]
    return {"labels": np.concatenate(labels), "predictions": np.concatenate(predictions),
            "worst": worst}


def _judging_data(config: dict, data_spec, input_shape: tuple, batch_size: int):
    """(batches, class names, "validation" or "training", a note or None): the validation split
    of the run's data (`data_spec`, else the one its config records), loaded again with the
    recorded options, or without one its first `MAX_TRAINING_IMAGES` training images, unaugmented
    (a prepared `DataBundle`'s as its pipeline yields them). In-memory data (arrays, datasets)
    that the spec does not hold cannot be reloaded and must be passed in."""
    from kerascnn.data import DataBundle
    from kerascnn.training.dataspec import DataSpec

    spec = data_spec or DataSpec.from_config(config)
    if spec is None or (spec.data is None and not spec.reloadable):
        raise ValueError("The run's config names no data that can be reloaded (in-memory data "
                         "is not saved); pass data=(x, y) or a tf.data.Dataset. "
                         f"Received: data={config.get('data')!r}")
    bundle = spec.load(input_shape=input_shape, batch_size=batch_size, verbose=0, cache=False)
    if bundle.validation is not None:
        return bundle.validation, bundle.class_names, "validation", None
    if bundle.train is None:
        raise ValueError(f"The run's data has no images to judge on. Received: data={spec.source!r}")
    batches = bundle.train.take(-(-MAX_TRAINING_IMAGES // batch_size))
    images = AS_PREPARED if isinstance(spec.data, DataBundle) else UNAUGMENTED
    return batches, bundle.class_names, "training", TRAINING_IMAGES_NOTE.format(images=images)


# --- the pictures --------------------------------------------------------------------------------


def _write_html(path: str, run_dir: str, result: RunReport, summary: list[tuple[str, str]]) -> None:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary)
    sections = []
    for key, title in _FIGURES:
        title = title.format(scored_on=result.scored_on)
        if key in result.figures:
            name = os.path.basename(result.figures[key])
            sections.append(f'<h2>{title}</h2>\n<img src="{html.escape(name)}" alt="{title}">')
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>Run report: {html.escape(os.path.basename(os.path.abspath(run_dir)))}</title>"
            "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%}"
            "th{text-align:left;padding-right:1em}</style></head><body>\n"
            f"<h1>Run report: {html.escape(os.path.abspath(run_dir))}</h1>\n<table>{rows}</table>\n"
            + ("<ul>" + notes + "</ul>\n" if notes else "") + "\n".join(sections)
            + "\n</body></html>\n")
    with open(path, "w") as handle:
        handle.write(page)


# --- the entry point -----------------------------------------------------------------------------


def report(run_dir: str, data: Any = None, *, output_dir: str | None = None, batch_size: int = 64,
           num_worst: int = 16, data_spec=None) -> RunReport:
    """Writes the run report of `run_dir`: four PNGs and `report.html` that shows them.

    Args:
        run_dir: str, a run directory (history.csv, .keras checkpoints, the resolved config JSON).
        data: Validation data to judge the checkpoint on: an `(x, y)` pair of numpy arrays or a
            `tf.data.Dataset` of (image, label) pairs, batched or not. Default None: the validation
            split of `data_spec` or of the data the run's config names; for a run that held
            nothing out, its training images, unaugmented (at most `MAX_TRAINING_IMAGES`).
        output_dir: str, where to write (default: `run_dir/report`).
        batch_size: int, default 64, batch size for predicting on `data`.
        num_worst: int, default 16, how many worst-classified images to show.
        data_spec: The run's `kerascnn.training.dataspec.DataSpec` (one that holds in-memory
            data, as a run has it), for `data=None`; default the one its config records.

    Returns:
        A `RunReport` with the paths written, the confusion matrix and top-1 on the data judged.

    Raises:
        FileNotFoundError: when `run_dir` is not a directory.
        ValueError: when a part of the report has nothing to draw from at all.
    """
    from kerascnn.validation import check_positive_int

    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run_dir must be a run directory. Received: run_dir={run_dir!r}")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(num_worst, "num_worst")
    output_dir = output_dir or os.path.join(run_dir, "report")
    os.makedirs(output_dir, exist_ok=True)
    config = _read_config(run_dir)
    result = RunReport(html=os.path.join(output_dir, "report.html"), figures={}, class_names=[])
    summary = [("run directory", os.path.abspath(run_dir))]
    recipe = config.get("recipe")
    summary += [(key, str(config[key])) for key in _CONFIG_SUMMARY if key in config]
    summary += [("recipe", str(recipe.get("name")))] if isinstance(recipe, dict) else []

    history = _run_history(run_dir)
    if history:
        result.figures["learning_curves"] = os.path.join(output_dir, "learning_curves.png")
        figures.plot_learning_curves(history, result.figures["learning_curves"])
        summary.append(("epochs logged", str(len(history.get("epoch", [])))))
    else:
        result.notes.append("No history.csv in the run directory: no learning curves.")

    checkpoint = _find_checkpoint(run_dir)
    if checkpoint is None:
        result.notes.append("No .keras checkpoint in the run directory: no model pictures.")
    else:
        _model_figures(checkpoint, config, data, data_spec, batch_size, num_worst, output_dir,
                       result, summary)
    if not result.figures:
        raise ValueError("The run directory holds neither history.csv nor a .keras checkpoint. "
                         f"Received: run_dir={run_dir!r}")
    _write_html(result.html, run_dir, result, summary)
    return result


def _model_figures(checkpoint, config, data, data_spec, batch_size, num_worst, output_dir, result,
                   summary) -> None:
    import keras

    import kerascnn.layers  # noqa: F401  (registers the custom layers before loading)

    model = keras.saving.load_model(checkpoint, compile=False, safe_mode=True)
    summary.append(("checkpoint", os.path.basename(checkpoint)))
    first = _first_conv_kernel(model)
    if first is not None:
        result.figures["conv1_filters"] = os.path.join(output_dir, "conv1_filters.png")
        figures.plot_filters(first[0], first[1], result.figures["conv1_filters"])
    num_classes = int(_main_output(model.outputs).shape[-1]) if model.outputs else 0
    names = _class_names(config)
    if data is None:
        try:
            data, loaded_names, result.scored_on, note = _judging_data(
                config, data_spec, model.inputs[0].shape[1:], batch_size)
        except (ValueError, ImportError, FileNotFoundError) as error:
            result.notes.append(f"No validation data: {str(error).splitlines()[0]}")
            data = None
        else:
            names = names or loaded_names
            if note:
                result.notes.append(note)
    result.class_names = [str(n) for n in (names or [str(i) for i in range(num_classes)])]
    if data is None:
        return
    evaluated = _evaluate(model, data, batch_size, num_worst)
    count = max(len(result.class_names), int(evaluated["predictions"].max(initial=0)) + 1)
    result.class_names += [str(i) for i in range(len(result.class_names), count)]
    result.confusion = confusion_matrix(evaluated["labels"], evaluated["predictions"], count)
    result.top1 = float(np.trace(result.confusion) / max(1, result.confusion.sum()))
    result.worst = evaluated["worst"]
    summary.append((f"{result.scored_on} examples", str(int(result.confusion.sum()))))
    summary.append((f"{result.scored_on} top-1", f"{result.top1:.4f}"))
    for key, draw, args in (
        ("confusion_matrix", functools.partial(figures.plot_confusion,
                                               scored_on=result.scored_on),
         (result.confusion, result.class_names)),
        ("worst_examples", figures.plot_worst, (result.worst, result.class_names)),
    ):
        result.figures[key] = os.path.join(output_dir, f"{key}.png")
        draw(*args, result.figures[key])
    with open(os.path.join(output_dir, "confusion_matrix.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *result.class_names])
        for name, row in zip(result.class_names, result.confusion):
            writer.writerow([name, *row.tolist()])
