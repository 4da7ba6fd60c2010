"""The run report's pictures: learning curves, confusion matrix, worst examples, conv1 filters.

Drawn with matplotlib's object-oriented API on its Agg canvas, never through pyplot: no window,
no display and no `MPLBACKEND` setting is needed or consulted, so reports are written the same
on a laptop, a headless server or in a worker process.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["filter_mosaic", "unit_range", "plot_learning_curves", "plot_confusion", "plot_worst",
           "plot_filters", "TOP1_KEYS", "LR_KEYS"]

# History columns that hold top-1 accuracy, in the spellings Keras metrics log under.
TOP1_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
             "top1", "top_1_accuracy")
LR_KEYS = ("learning_rate", "lr")


def _figure(**kwargs):
    """A matplotlib Figure on the Agg (raster, headless) canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def unit_range(array: np.ndarray) -> np.ndarray:
    low, high = float(np.min(array)), float(np.max(array))
    return (array - low) / (high - low) if high > low else np.zeros_like(array, dtype=float)


def filter_mosaic(kernel: np.ndarray, columns: int | None = None, border: int = 1) -> np.ndarray:
    """Lays out the filters of a (kh, kw, in, out) convolution kernel as one image.

    Each filter is scaled to [0, 1] on its own (as the AlexNet paper shows them); three input
    channels give a colour tile, any other count the mean over input channels in grey. Tiles sit
    row-major on a grid `columns` wide (default: ceil(sqrt(out))), separated by `border` pixels
    of 1.

    Returns:
        An (rows*(kh+border)+border, columns*(kw+border)+border, 3) float array in [0, 1].
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 4:
        raise ValueError("kernel must have shape (kh, kw, in, out). "
                         f"Received: kernel.shape={kernel.shape}")
    height, width, channels, count = kernel.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    mosaic = np.ones((rows * (height + border) + border, columns * (width + border) + border, 3))
    for index in range(count):
        tile = kernel[..., index]
        tile = tile if channels == 3 else np.repeat(tile.mean(axis=-1, keepdims=True), 3, axis=-1)
        top = border + (index // columns) * (height + border)
        left = border + (index % columns) * (width + border)
        mosaic[top:top + height, left:left + width] = unit_range(tile)
    return mosaic


def _column(history: dict, keys: tuple, prefix: str = "") -> tuple[str, np.ndarray] | None:
    for key in keys:
        if prefix + key in history:
            return prefix + key, history[prefix + key]
    return None


def plot_learning_curves(history: dict, path: str):
    """Loss, top-1 accuracy (training and validation) and learning rate per epoch, as a PNG at
    `path`; returns the figure."""
    epochs = history.get("epoch", np.arange(len(next(iter(history.values()), []))))
    epochs = np.asarray(epochs) + 1  # CSVLogger counts epochs from 0; people count from 1.
    figure = _figure(figsize=(13, 3.8), layout="constrained")
    loss_ax, acc_ax, lr_ax = figure.subplots(1, 3)
    for ax, keys, title in ((loss_ax, ("loss",), "loss"), (acc_ax, TOP1_KEYS, "top-1 accuracy")):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            found = _column(history, keys, prefix)
            if found:
                ax.plot(epochs, found[1], style, markersize=3, label=found[0])
        ax.set(title=title, xlabel="epoch")
        if ax.lines:
            ax.legend()
    found = _column(history, LR_KEYS)
    if found is not None:
        # Step schedules read best on a log scale; one that decays to 0 (cosine) cannot use it.
        positive = np.all(found[1][np.isfinite(found[1])] > 0)
        (lr_ax.semilogy if positive else lr_ax.plot)(epochs, found[1], "-o", markersize=3)
    else:
        lr_ax.text(0.5, 0.5, "learning rate not logged", ha="center", va="center",
                   transform=lr_ax.transAxes)
    lr_ax.set(title="learning rate", xlabel="epoch")
    for ax in (loss_ax, acc_ax, lr_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    figure.savefig(path, dpi=100)
    return figure


def plot_confusion(counts: np.ndarray, class_names: list[str], path: str,
                   scored_on: str = "validation") -> None:
    """The confusion matrix on `scored_on` examples as a PNG at `path`: counts written in the
    cells up to 20 classes."""
    count = len(class_names)
    size = min(4 + 0.45 * count, 16)
    figure = _figure(figsize=(size + 1.5, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(counts, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=f"{int(counts.sum())} {scored_on} examples")
    if count <= 40:  # Beyond that the names and counts overprint each other.
        ax.set_xticks(range(count), class_names, rotation=90)
        ax.set_yticks(range(count), class_names)
    if count <= 20:
        threshold = counts.max() / 2
        for (i, j), value in np.ndenumerate(counts):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                    color="white" if value > threshold else "black")
    figure.savefig(path, dpi=100)


def plot_worst(worst: list[dict], class_names: list[str], path: str) -> None:
    """The worst-classified images, with true and predicted class, as a PNG at `path`."""
    columns = min(8, max(1, len(worst)))
    rows = max(1, math.ceil(len(worst) / columns))
    figure = _figure(figsize=(1.8 * columns, 2.1 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, item in zip(axes, worst):
        image = unit_range(np.asarray(item["image"], dtype=float))
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image[..., :3],
                  cmap="gray", interpolation="nearest")
        ax.set_title(f"true {class_names[item['label']]}\npred {class_names[item['prediction']]}"
                     f" ({item['predicted_probability']:.2f})", fontsize=8)
    figure.savefig(path, dpi=100)


def plot_filters(layer_name: str, kernel: np.ndarray, path: str) -> None:
    """A convolution kernel's filters (`filter_mosaic`) as a PNG at `path`."""
    mosaic = filter_mosaic(kernel)
    scale = max(4.0, min(12.0, mosaic.shape[1] / 12))
    figure = _figure(figsize=(scale, scale * mosaic.shape[0] / mosaic.shape[1] + 0.4),
                    layout="constrained")
    ax = figure.subplots()
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    height, width, channels, count = kernel.shape
    ax.set_title(f"{layer_name}: {count} filters of {height}x{width}x{channels}")
    figure.savefig(path, dpi=100)
