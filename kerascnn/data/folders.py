"""Folders of images, one sub-folder per class, checked once before any training starts.

Every file is opened and fully decoded once (with a progress bar), so truncated or corrupt
images, non-images and zero-byte files are found up front and reported in one warning instead
of stopping an epoch half-way. JPEGs and 8-bit PNGs are decoded again by TensorFlow in the
pipeline; images in other formats or modes (16-bit PNGs, palettes, CMYK, BMP, GIF, TIFF, WebP)
are converted to 8-bit PNGs in memory during the scan, so the pipeline never meets them.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerascnn.data.sources import Source
from kerascnn.data.splits import validation_mask

__all__ = ["ScanResult", "scan_folder", "folder_source", "resolve_layout", "class_folders"]

SPLIT_FOLDERS = ("train", "val", "validation", "test")
_LISTED = 50  # Unusable files named in the warning; the rest are counted.


@dataclasses.dataclass
class ScanResult:
    """What a folder holds: usable files (path, PNG bytes or b"", label) and unusable ones."""

    paths: list[str]
    blobs: list[bytes]
    labels: list[int]
    class_names: list[str]
    unusable: list[tuple[str, str]]
    empty_classes: list[str]
    converted: int


def _png_bit_depth(path: str) -> int:
    with open(path, "rb") as handle:
        header = handle.read(25)
    return header[24] if len(header) == 25 else 0


def _to_8bit(image) -> np.ndarray:
    """A PIL image as an 8-bit L or RGB array; 16-bit and float pixels are scaled, alpha dropped."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image).astype(np.float64)
        if array.max(initial=0) > 255:  # 16-bit range (PIL opens 16-bit PNGs as "I" or "I;16").
            array = array / 257.0
        return np.clip(np.round(array), 0, 255).astype(np.uint8)
    if mode in ("L", "RGB"):
        return np.asarray(image)
    if mode in ("1", "LA", "La"):
        return np.asarray(image.convert("L"))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"))


def _inspect(path: str):
    """Returns ("ok", b""), ("ok", png_bytes) for converted images, or ("bad", reason)."""
    from PIL import Image

    try:
        if os.path.getsize(path) == 0:
            return "bad", "empty file (0 bytes)"
        with Image.open(path) as image:
            image.load()  # Full decode: truncated data only shows here.
            native = (image.format == "JPEG" and image.mode in ("L", "RGB")) or (
                image.format == "PNG" and image.mode in ("L", "LA", "RGB", "RGBA")
                and _png_bit_depth(path) == 8
            )
            if native:
                return "ok", b""
            array = _to_8bit(image)
    except Image.UnidentifiedImageError:
        return "bad", "not an image"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return "bad", f"unreadable ({' '.join(str(error).split()) or type(error).__name__})"
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[-1] in (1, 3)):
        return "bad", f"unsupported pixel layout {array.shape}"
    if min(array.shape[:2]) < 1:
        return "bad", "image with no pixels"
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "ok", buffer.getvalue()


def class_folders(root: str) -> list[str]:
    """The class sub-folders of `root`, sorted (their order gives the class indices)."""
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def scan_folder(root: str, *, verbose: int = 1) -> ScanResult:
    """Opens every file under `root`/<class>/ once and sorts the usable from the unusable.

    Args:
        root: Folder with one sub-folder per class (names sorted give the class indices).
        verbose: 1 shows a `keras.utils.Progbar`, 0 is silent.

    Returns:
        A `ScanResult`; classes with no usable image are dropped and listed in `empty_classes`.

    Raises:
        ValueError: If `root` has no class sub-folders.
    """
    classes = class_folders(root)
    if not classes:
        raise ValueError(
            f"data as a folder must hold one sub-folder of images per class; {root!r} has no "
            f"sub-folders. Received: data={root!r}"
        )
    files = []
    for index, name in enumerate(classes):
        for base, dirs, names in os.walk(os.path.join(root, name), followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files.extend((os.path.join(base, f), index) for f in sorted(names)
                         if not f.startswith("."))
    bar = keras.utils.Progbar(len(files), unit_name="file") if verbose and files else None
    workers = min(8, 2 * (os.cpu_count() or 1))
    results = []
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # PIL decodes without the GIL.
        for done, outcome in enumerate(pool.map(_inspect, (path for path, _ in files)), 1):
            results.append(outcome)
            if bar is not None and (done % 64 == 0 or done == len(files)):
                bar.update(done)
    paths, blobs, labels, unusable = [], [], [], []
    for (path, label), (status, payload) in zip(files, results):
        if status == "ok":
            paths.append(path)
            blobs.append(payload)
            labels.append(label)
        else:
            unusable.append((os.path.relpath(path, root), payload))
    used = sorted(set(labels))
    remap = {old: new for new, old in enumerate(used)}
    return ScanResult(
        paths=paths,
        blobs=blobs,
        labels=[remap[label] for label in labels],
        class_names=[classes[i] for i in used],
        unusable=unusable,
        empty_classes=[name for i, name in enumerate(classes) if i not in remap],
        converted=sum(1 for blob in blobs if blob),
    )


def _report(root: str, scan: ScanResult) -> None:
    if not scan.paths:
        reasons = sorted({reason.split(" (")[0] for _, reason in scan.unusable})
        raise ValueError(
            f"data folder {root!r} has no usable images ({len(scan.unusable)} unusable files: "
            f"{', '.join(reasons) or 'none'}; class folders: {', '.join(scan.empty_classes)}). "
            f"Received: data={root!r}"
        )
    if not (scan.unusable or scan.empty_classes):
        return
    lines = [f"  {path}: {reason}" for path, reason in scan.unusable[:_LISTED]]
    if len(scan.unusable) > _LISTED:
        lines.append(f"  ... and {len(scan.unusable) - _LISTED} more")
    if scan.empty_classes:
        lines.append(
            f"  class folders with no usable image, dropped: {', '.join(scan.empty_classes)}"
        )
    warnings.warn(
        f"Skipped {len(scan.unusable)} unusable files in {root!r} (kept {len(scan.paths)} "
        f"images in {len(scan.class_names)} classes, {scan.converted} of them converted to "
        "8-bit):\n" + "\n".join(lines),
        UserWarning,
        stacklevel=5,
    )


def _decode(path, blob, label):
    # Converted images travel as PNG bytes; the others are read from disk when needed.
    contents = tf.cond(tf.strings.length(blob) > 0, lambda: blob, lambda: tf.io.read_file(path))
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image, label


def _pipeline(scan: ScanResult, index: np.ndarray) -> tf.data.Dataset:
    paths = tf.constant([scan.paths[i] for i in index], dtype=tf.string)
    blobs = tf.constant([scan.blobs[i] for i in index], dtype=tf.string)
    labels = tf.constant(np.asarray(scan.labels, dtype=np.int32)[index], dtype=tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((paths, blobs, labels))
    return dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)


def resolve_layout(root: str, split) -> tuple[str | None, str | None]:
    """Sub-folders for (train, validation) when `root` is split into train/val folders."""
    if split is not None:
        train, validation = split if isinstance(split, tuple) else (split, None)
        for name, value in (("train", train), ("validation", validation)):
            if value is not None and not os.path.isdir(os.path.join(root, value)):
                raise ValueError(
                    f"split names sub-folders of the data folder for folders; {root!r} has no "
                    f"{value!r} sub-folder (it has: {', '.join(class_folders(root))}). "
                    f"Received: split={split!r}"
                )
        return train, validation
    folders = set(class_folders(root))
    if "train" in folders and folders <= set(SPLIT_FOLDERS) and class_folders(
        os.path.join(root, "train")
    ):
        validation = next((v for v in ("val", "validation") if v in folders), None)
        return "train", validation
    return "", None


def folder_source(root: str, *, split, validation_split: float, seed: int, num_classes,
                  verbose: int = 1) -> Source:
    """A folder of class sub-folders (or train/val sub-folders of those) as a `Source`."""
    if not os.path.isdir(root):
        raise ValueError(f"data folder does not exist. Received: data={root!r}")
    train_dir, validation_dir = resolve_layout(root, split)
    scans = {}
    for role, sub in (("train", train_dir), ("validation", validation_dir)):
        if sub is not None:
            folder = os.path.join(root, sub) if sub else root
            scans[role] = scan_folder(folder, verbose=verbose)
            _report(folder, scans[role])
    reference = scans.get("train") or scans["validation"]
    class_names = reference.class_names
    if "train" in scans and "validation" in scans:
        if scans["validation"].class_names != class_names:
            raise ValueError(
                f"The training and validation folders of {root!r} have different classes. "
                f"Received: {class_names} and {scans['validation'].class_names}"
            )
    if num_classes is not None and num_classes != len(class_names):
        raise ValueError(
            f"num_classes differs from the {len(class_names)} classes found in {root!r}. "
            f"Received: num_classes={num_classes}"
        )
    train = validation = None
    train_examples = validation_examples = 0
    validation_from = ""
    if "train" in scans:
        labels = np.asarray(scans["train"].labels)
        carve = "validation" not in scans and not isinstance(split, tuple)
        mask = (validation_mask(len(labels), validation_split, seed, labels) if carve
                else np.zeros(len(labels), bool))
        # Files are listed class by class; a seeded random order keeps shuffle buffers and
        # statistics from the first images (PCA lighting) representative.
        order = np.random.default_rng(seed).permutation(np.flatnonzero(~mask))
        train = _pipeline(scans["train"], order)
        train_examples = int((~mask).sum())
        if mask.any():
            validation = _pipeline(scans["train"], np.flatnonzero(mask))
            validation_examples = int(mask.sum())
            validation_from = "hold-out"
    if "validation" in scans:
        count = len(scans["validation"].labels)
        validation = _pipeline(scans["validation"], np.arange(count))
        validation_examples = count
        validation_from = "split"
    return Source(
        train=train,
        validation=validation,
        train_examples=train_examples,
        validation_examples=validation_examples,
        class_names=class_names,
        image_shape=None,
        validation_from=validation_from,
    )
