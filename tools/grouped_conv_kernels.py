"""Grouped convolution on CPU: TensorFlow's native grouped kernel against one convolution per group.

TensorFlow's CPU `Conv2D` runs a grouped forward pass natively (with the oneDNN kernels), but its
gradients refuse groups ("Gradients for grouped convolutions are not supported on CPU"), which
is why `kerascnn.layers.Conv2D` splits the channels. This measures whether a native forward pass
(and a native input gradient, as a grouped convolution of the output gradient with the flipped
kernel, in and out channels swapped within each group) would pay: the forward pass, the input
gradient and the filter gradient of ResNeXt-50 32x4d's first grouped layer (56x56, 128 channels,
32 groups of 4), both ways, after checking that they agree.

    .venv/bin/python tools/grouped_conv_kernels.py [--batch 32] [--size 56] [--channels 128]
"""

from __future__ import annotations

import argparse
import time

import bench_common as common


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=56)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--groups", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    common.configure_threads(args.threads)
    import kerascnn  # noqa: F401  (turns the oneDNN kernels on before TensorFlow loads)
    import tensorflow as tf

    groups, width = args.groups, args.channels // args.groups
    shape = [args.batch, args.size, args.size, args.channels]
    x, dy = tf.random.normal(shape, seed=1), tf.random.normal(shape, seed=2)
    kernel = tf.random.normal([3, 3, width, args.channels], seed=3) * 0.1
    strides = [1, 1, 1, 1]
    # The input gradient as a grouped convolution: flip the kernel, swap in and out per group.
    swapped = tf.reshape(tf.transpose(tf.reshape(kernel, [3, 3, width, groups, width])[::-1, ::-1],
                                      [0, 1, 4, 3, 2]), [3, 3, width, args.channels])

    def per_group(function, *tensors):
        return tf.concat([function(*parts) for parts in
                          zip(*(tf.split(t, groups, axis=-1) for t in tensors))], axis=-1)

    contenders = {
        "forward native": tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME")),
        "forward per group": tf.function(lambda: per_group(
            lambda a, k: tf.nn.conv2d(a, k, 1, "SAME"), x, kernel)),
        "input gradient native": tf.function(lambda: tf.nn.conv2d(dy, swapped, 1, "SAME")),
        "input gradient per group": tf.function(lambda: per_group(
            lambda a, k, d: tf.compat.v1.nn.conv2d_backprop_input(tf.shape(a), k, d, strides,
                                                                  "SAME"), x, kernel, dy)),
        "filter gradient per group": tf.function(lambda: per_group(
            lambda a, d: tf.compat.v1.nn.conv2d_backprop_filter(a, [3, 3, width, width], d,
                                                                strides, "SAME"), x, dy)),
    }
    differences = {
        "forward": float(tf.reduce_max(tf.abs(contenders["forward native"]() -
                                              contenders["forward per group"]()))),
        "input gradient": float(tf.reduce_max(tf.abs(contenders["input gradient native"]() -
                                                     contenders["input gradient per group"]()))),
    }
    print("largest difference, native against per group: " +
          ", ".join(f"{k} {v:.2e}" for k, v in differences.items()))

    def timed(function):
        def measure():
            start = time.perf_counter()
            function()
            return 1000 * (time.perf_counter() - start)
        return measure

    for function in contenders.values():  # traced and warmed before timing
        function()
    milliseconds = common.alternate({name: timed(f) for name, f in contenders.items()},
                                    args.repeats)
    common.print_table(f"grouped 3x3 convolution, {shape} in, {groups} groups, {args.threads} "
                       f"threads, median of {args.repeats}", ("pass", "ms"),
                       [(name, f"{value:.1f}") for name, value in milliseconds.items()])
    return {"milliseconds": milliseconds, "differences": differences}


if __name__ == "__main__":
    main()
