"""Benchmark (c, files): the image-folder pipeline on JPEG files against the models it feeds.

`bench_pipeline.py` times the augmentation on in-memory arrays; this one times what a user's folder
of photos costs: a generated folder of photo-like JPEG files (random sizes from 224 to 512 pixels a
side: smooth colour fields, a few shapes and sensor-like noise, quality 90, so that decoding costs
what a photo's does) read by `kerascnn.data.load(folder, ...)` with each ImageNet-style policy and
each cache setting:

    decode      `cache=False`: every file read, decoded and resized on every pass (a folder too
                large to cache)
    memory      `cache=True` (the default when the decoded images fit): decoded once
    file        `cache="PREFIX"`: decoded once into a cache file on disk

Consumers: ResNet-50 and AlexNet training steps at the same size and batch (synthetic batches,
timed in the same run). Target: the pipeline at >= 2x its consumer. The pipeline's rate is also
given per core (tf.data uses every core of the machine), which is what sizing a pipeline for a
faster consumer (a GPU) needs: cores = 2 x consumer rate / rate per core.

    .venv/bin/python tools/bench_jpeg_folder.py [--quick] [--images 512] [--policies resnet]
"""

from __future__ import annotations

import os
import shutil
import tempfile

import bench_common as common
from bench_pipeline import dataset_rate, model_rate

TARGET = 2.0
CONSUMERS = ("resnet50", "alexnet")
CACHES = ("decode", "memory", "file")


def photo(rng, height: int, width: int):
    """A photo-like RGB image: a smooth colour field, a few filled shapes and pixel noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    field = Image.fromarray(rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)).resize(
        (width, height), Image.BICUBIC)
    pen = ImageDraw.Draw(field)
    for _ in range(int(rng.integers(2, 6))):
        x0, x1 = sorted(rng.integers(0, width, size=2))
        y0, y1 = sorted(rng.integers(0, height, size=2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)([x0, y0, x1, y1], fill=colour)
    pixels = np.asarray(field, dtype=np.float32) + rng.normal(0, 6, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_photos(root: str, images: int, classes: int = 10, seed: int = 0) -> dict:
    """Writes `images` JPEG files in `classes` sub-folders; returns their count and mean size."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes, pixels = 0, 0
    for index in range(images):
        folder = os.path.join(root, f"class_{index % classes}")
        os.makedirs(folder, exist_ok=True)
        height, width = (int(v) for v in rng.integers(224, 513, size=2))
        path = os.path.join(folder, f"photo_{index:05d}.jpg")
        photo(rng, height, width).save(path, quality=90)
        sizes += os.path.getsize(path)
        pixels += height * width
    return {"files": images, "mean_kilobytes": sizes / images / 1024,
            "mean_megapixels": pixels / images / 1e6}


def pipeline_rate(folder: str, policy: str, cache: str, shape: tuple, args, workdir: str) -> float:
    """Training images per second drawn from the folder's pipeline (median of the repeats)."""
    import kerascnn

    setting = {"decode": False, "memory": True,
               "file": os.path.join(workdir, f"cache-{policy}")}[cache]
    bundle = kerascnn.data.load(folder, input_shape=shape, batch_size=args.batch,
                                augmentation=policy, validation_split=0.0, cache=setting,
                                verbose=0)
    return dataset_rate(bundle.train, args.images // args.batch, args.batch, args.repeats,
                        f"{policy} {cache}")


def main(argv=None) -> list[dict]:
    p = common.parser(__doc__.splitlines()[0], size=224, batch=32, steps=3)
    p.add_argument("--images", type=int, default=512, help="JPEG files in the folder")
    p.add_argument("--policies", default="none,alexnet,resnet,inception",
                   help="comma-separated augmentation policies")
    p.add_argument("--caches", default=",".join(CACHES), help="comma-separated: " +
                   ", ".join(CACHES))
    p.add_argument("--consumers", default=",".join(CONSUMERS))
    p.add_argument("--note", help="a remark kept in the JSON file (the machine's load ...)")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.repeats = 112, 16, 2, 1, 2
        args.images = 64
    unknown = set(args.caches.split(",")) - set(CACHES)
    if unknown:
        p.error(f"--caches takes {', '.join(CACHES)}. Received: {sorted(unknown)}")
    common.configure_threads(args.threads)
    shape = (args.size, args.size, 3)
    workdir = tempfile.mkdtemp(prefix="kerascnn_jpeg_bench_")
    try:
        folder = os.path.join(workdir, "photos")
        files = write_photos(folder, args.images)
        print(f"wrote {files['files']} JPEG files, {files['mean_kilobytes']:.0f} KiB and "
              f"{files['mean_megapixels']:.2f} megapixels on average, in {folder}")
        consumers = {name: model_rate(name, shape, args.batch, args) for name in
                     args.consumers.split(",")}
        cores = os.cpu_count()
        results = []
        for policy in args.policies.split(","):
            for cache in args.caches.split(","):
                rate = pipeline_rate(folder, policy, cache, shape, args, workdir)
                results.append({"policy": policy, "cache": cache, "input": list(shape),
                                "pipeline_images_per_second": rate,
                                "per_core": rate / cores,
                                "ratios": {name: rate / consumer
                                           for name, consumer in consumers.items()}})
                print(f"  {policy} {cache}: {rate:.1f} img/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = []
    for r in results:
        cells = [r["policy"], r["cache"], f"{r['pipeline_images_per_second']:.1f}",
                 f"{r['per_core']:.1f}"]
        for name, ratio in r["ratios"].items():
            cells += [f"{ratio:.1f}x", common.verdict(ratio, TARGET)]
        rows.append(tuple(cells))
    header = ("policy", "cache", "img/s", f"img/s/core ({cores})")
    for name, rate in consumers.items():
        header += (f"/{name} ({rate:.1f})", "target 2x")
    common.print_table(f"(c) JPEG folder ({files['files']} files, {args.size}px crops, batch "
                       f"{args.batch}) against training img/s, median of {args.repeats}",
                       header, rows)
    args.folder = files
    common.write_json(args.json, "jpeg_folder", args, results)
    return results


if __name__ == "__main__":
    main()
