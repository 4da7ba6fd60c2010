"""Where a Keras training step spends its time: TensorFlow's profiler, summed by op type.

Traces `--steps` training steps of a kerascnn model (after warm-up) and prints the self-time of
each TensorFlow op type and the slowest single ops. Run it with `TF_ENABLE_ONEDNN_OPTS=0` and `=1`
to see which kernels TensorFlow picks (oneDNN ops show as `_MklNative*` / `_MklFused*`).

    .venv/bin/python tools/profile_step.py resnet50 --size 64 --batch 8 [--top 25]
"""

from __future__ import annotations

import collections
import glob
import json
import tempfile

import bench_common as common


def op_rows(xplane_path: str) -> list[dict]:
    """The profiler's per-op table ("framework_op_stats") as dicts."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, ok = plugin.xspace_to_tools_data([xplane_path], "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"The profiler could not read {xplane_path}")
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    return [dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
            for row in table["rows"]]


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], size=64, batch=8, steps=2)
    p.add_argument("model", help="a registered kerascnn model")
    p.add_argument("--top", type=int, default=20, help="rows to print")
    args = p.parse_args(argv)
    common.configure_threads(args.threads)
    import tensorflow as tf

    import kerascnn

    default = kerascnn.registry.get_entry(args.model).default_input_shape
    shape = tuple(default) if default[0] <= 32 else (args.size, args.size, default[2])
    model = kerascnn.build(args.model, input_shape=shape, classifier_activation=None)
    x, y = common.synthetic_batch(args.batch, shape, model.outputs[0].shape[-1])
    step = common.keras_step(model, x, y, args)
    for _ in range(max(1, args.warmup)):
        step()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(args.steps):
            step()
        tf.profiler.experimental.stop()
        rows = op_rows(sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1])
    by_type, count = collections.Counter(), collections.Counter()
    for row in rows:
        by_type[row["type"]] += row["total_self_time"] / 1e3 / args.steps
        count[row["type"]] += row["occurrences"] / args.steps
    total = sum(by_type.values())
    common.print_table(
        f"{args.model} {shape[0]}px batch {args.batch}: {total:.0f} ms of op self-time per step, "
        f"TF_ENABLE_ONEDNN_OPTS={common.machine()['TF_ENABLE_ONEDNN_OPTS']}",
        ("op type", "ms/step", "share", "ops/step"),
        [(k, f"{v:.1f}", f"{100 * v / total:.1f}%", f"{count[k]:.0f}")
         for k, v in by_type.most_common(args.top)])
    slowest = sorted(rows, key=lambda r: -r["total_self_time"])[:args.top]
    common.print_table("slowest ops", ("op", "type", "ms/step"),
                       [(r["operation"][-70:], r["type"], f"{r['total_self_time'] / 1e3 / args.steps:.1f}")
                        for r in slowest])
    results = {"model": args.model, "input": list(shape), "batch": args.batch,
               "ms_per_step_by_op_type": dict(by_type)}
    common.write_json(args.json, "profile", args, results)
    return results


if __name__ == "__main__":
    main()
