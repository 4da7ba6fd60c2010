"""The layers of LeNet-5 as LeCun et al. (1998) describe them.

Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998, section II.B and appendix A.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["ScaledTanh", "Subsampling", "PartialConv2D", "EuclideanRBF", "UntiedBias"]


@keras.saving.register_keras_serializable(package="kerascnn")
class ScaledTanh(keras.layers.Layer):
    """The paper's squashing function f(a) = A tanh(S a), with A = 1.7159 and S = 2/3 (appendix A).

    Chosen so that f(1) = 1 and f(-1) = -1, with maximal second derivative at +-1.
    """

    def __init__(self, amplitude: float = 1.7159, slope: float = 2.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.amplitude = amplitude
        self.slope = slope

    def call(self, inputs):
        return self.amplitude * ops.tanh(self.slope * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "amplitude": self.amplitude, "slope": self.slope}


@keras.saving.register_keras_serializable(package="kerascnn")
class Subsampling(keras.layers.Layer):
    """LeNet's trainable subsampling (S2, S4): the four inputs of each 2x2 window are summed, then
    multiplied by a trainable coefficient and shifted by a trainable bias, one pair per feature map
    (section II.B). The squashing function is applied by the next layer.

    Args:
        pool_size: Window and stride, 2 in the paper.
    """

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = (pool_size, pool_size)
        self.strides = self.pool_size
        self.padding = "valid"

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(shape=(channels,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")

    def call(self, inputs):
        window_sum = ops.average_pool(inputs, self.pool_size, self.strides, "valid")
        window_sum = window_sum * float(np.prod(self.pool_size))
        return window_sum * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        h, w = (None if d is None else d // p for d, p in zip(input_shape[1:3], self.pool_size))
        return (input_shape[0], h, w, input_shape[-1])

    def count_macs(self, input_shapes, output_shape):
        return int(np.prod(output_shape[1:]))

    def count_connections(self, input_shapes, output_shape):
        # Each unit sums its window's inputs and adds a bias: the paper's 5,880 for S2.
        return int(np.prod(output_shape[1:])) * (int(np.prod(self.pool_size)) + 1)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size[0]}


@keras.saving.register_keras_serializable(package="kerascnn")
class PartialConv2D(keras.layers.Layer):
    """A valid convolution in which output map j sees only the input maps `connections[i][j]` marks.

    LeNet-5's C3 (the paper's Table I) uses such a table "to break the symmetry in the network" and
    to keep the number of connections within bounds. Only connected kernels are variables, so the
    trainable parameter count is the paper's (1,516 for C3). LeCun et al. (1989) connect each H2
    map to 8 of H1's 12 maps the same way, with stride 2 and one bias per unit (`use_bias=False`
    here, followed by `UntiedBias`).

    Args:
        filters: Number of output maps.
        kernel_size: Square kernel size.
        connections: Nested list `[input_map][output_map]` of 0/1 flags.
        strides: Square stride (default 1).
        use_bias: Whether each output map has one shared bias (default True).
    """

    def __init__(self, filters: int, kernel_size: int, connections, strides: int = 1,
                 use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = (kernel_size, kernel_size)
        self.strides = (strides, strides)
        self.use_bias = bool(use_bias)
        self.padding = "valid"
        self.connections = [[int(c) for c in row] for row in connections]
        table = np.array(self.connections, dtype=bool)
        if table.shape[1] != filters:
            raise ValueError(
                f"connections must have {filters} columns (one per filter). "
                f"Received: connections with shape {table.shape}"
            )
        # Column k of the full (in x out) kernel matrix takes connected kernel index[k], or the
        # trailing zero column for unconnected pairs.
        flat = table.reshape(-1)
        index = np.full(flat.shape, flat.sum(), dtype="int32")
        index[flat] = np.arange(flat.sum())
        self._index = index

    def build(self, input_shape):
        if input_shape[-1] != len(self.connections):
            raise ValueError(
                f"PartialConv2D expects {len(self.connections)} input maps. "
                f"Received: input_shape={input_shape}"
            )
        taps = int(np.prod(self.kernel_size))
        connected = int(np.sum(self.connections))
        fan_in = taps * connected / self.filters
        limit = 2.4 / fan_in  # The paper's uniform initialisation range, +-2.4 / F_i (appendix A).
        self.kernel = self.add_weight(
            shape=(taps, connected),
            initializer=keras.initializers.RandomUniform(-limit, limit),
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def full_kernel(self):
        """The dense (kh, kw, in, out) kernel, zero where the table has no connection."""
        padded = ops.concatenate([self.kernel, ops.zeros((self.kernel.shape[0], 1))], axis=1)
        full = ops.take(padded, self._index, axis=1)
        return ops.reshape(full, (*self.kernel_size, len(self.connections), self.filters))

    def call(self, inputs):
        outputs = ops.conv(inputs, self.full_kernel(), strides=self.strides, padding="valid")
        return outputs + self.bias if self.use_bias else outputs

    def compute_output_shape(self, input_shape):
        h, w = (None if d is None else (d - k) // s + 1
                for d, k, s in zip(input_shape[1:3], self.kernel_size, self.strides))
        return (input_shape[0], h, w, self.filters)

    def count_macs(self, input_shapes, output_shape):
        positions = int(np.prod(output_shape[1:3]))
        return positions * int(np.prod(self.kernel_size)) * int(np.sum(self.connections))

    def count_connections(self, input_shapes, output_shape):
        biases = int(np.prod(output_shape[1:])) if self.use_bias else 0
        return self.count_macs(input_shapes, output_shape) + biases

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size[0],
            "connections": self.connections,
            "strides": self.strides[0],
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="kerascnn")
class EuclideanRBF(keras.layers.Layer):
    """LeNet-5's output layer: one Euclidean radial basis function unit per class.

    y_i = sum_j (x_j - w_ij)^2, with fixed prototypes w_i of +-1 (the paper draws them as 7x12
    bitmaps of the characters, equation 7). The layer returns -y_i, so the largest output is the
    closest prototype and softmax cross-entropy on these scores is the paper's discriminative
    criterion (equation 9) up to its constant j term.

    Args:
        prototypes: Array `(num_classes, units)` of +-1 codes; not trainable.
    """

    def __init__(self, prototypes, **kwargs):
        super().__init__(**kwargs)
        self.prototypes = np.asarray(prototypes, dtype="float32").tolist()

    def build(self, input_shape):
        values = np.asarray(self.prototypes, dtype="float32")
        if input_shape[-1] != values.shape[1]:
            raise ValueError(
                f"EuclideanRBF prototypes have {values.shape[1]} units. "
                f"Received: input_shape={input_shape}"
            )
        self.centers = self.add_weight(
            shape=values.shape,
            initializer=keras.initializers.Constant(values),
            trainable=False,
            name="prototypes",
        )

    def call(self, inputs):
        difference = ops.expand_dims(inputs, 1) - self.centers
        return -ops.sum(ops.square(difference), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.prototypes))

    def count_macs(self, input_shapes, output_shape):
        return int(np.prod(np.shape(self.prototypes)))

    def count_connections(self, input_shapes, output_shape):
        # One connection per (input, prototype) pair: the 840 that take LeNet-5 to 340,908.
        return self.count_macs(input_shapes, output_shape)

    def get_config(self):
        return {**super().get_config(), "prototypes": self.prototypes}


@keras.saving.register_keras_serializable(package="kerascnn")
class UntiedBias(keras.layers.Layer):
    """Adds one trainable bias per unit: per output value, not per feature map.

    LeCun et al. (1989), "Backpropagation Applied to Handwritten Zip Code Recognition", share the
    kernels of a feature map between its units but give every unit its own bias; the difference
    between the paper's 64,660 connections and 9,760 independent parameters rests on it. Placed
    after a bias-free convolution. On maps of unknown size there is no fixed set of units, so the
    bias is then shared by each feature map, as in a conventional convolution (the minimum-size
    probe builds such a model; the paper's counts need the fixed 16x16 input).
    """

    def build(self, input_shape):
        shape = tuple(input_shape[1:])
        if None in shape:
            shape = (1,) * (len(shape) - 1) + shape[-1:]
        self.bias = self.add_weight(shape=shape, initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def count_connections(self, input_shapes, output_shape):
        return int(np.prod(output_shape[1:]))
