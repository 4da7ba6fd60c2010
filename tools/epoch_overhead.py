"""What a short epoch costs beyond its steps: `kerascnn.train` on a few digits for many short
epochs, counting the training-data iterators the run creates and the time spent creating them.

    python tools/epoch_overhead.py [--images 100] [--epochs 20] [--recipe small_data]

Keras creates a new iterator over a finite dataset at every epoch (and one more for the next
epoch as each ends); each instantiates the pipeline's functions, the augmentation included. A run
reading one endless stream `steps_per_epoch` batches at a time keeps one iterator. Run it on two
versions (e.g. a checkout of each, with PYTHONPATH pointing at it) to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--recipe", default="small_data")
    args = parser.parse_args()

    from sklearn.datasets import load_digits
    from tensorflow.python.data.ops import dataset_ops

    import kerascnn

    created = []
    original = dataset_ops.DatasetV2.__iter__

    def timed_iter(dataset):
        start = time.perf_counter()
        iterator = original(dataset)
        created.append(time.perf_counter() - start)
        return iterator

    dataset_ops.DatasetV2.__iter__ = timed_iter
    digits = load_digits()
    images = (digits.images[:args.images] * (255 / 16)).astype("uint8")[..., None]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        kerascnn.train("lenet5", (images, digits.target[:args.images]), epochs=args.epochs,
                       recipe=args.recipe, run_dir=os.path.join(run_dir, "run"), verbose=0,
                       report=False)
    total = time.perf_counter() - start
    print(f"kerascnn {os.path.dirname(kerascnn.__file__)}: {args.epochs} epochs of "
          f"{args.images} images ({args.recipe}) in {total:.1f} s; {len(created)} iterators "
          f"created, {sum(created):.1f} s creating them ({max(created):.2f} s the slowest)")


if __name__ == "__main__":
    sys.exit(main())
