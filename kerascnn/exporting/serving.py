"""What every export serves: raw images prepared as the data pipeline prepares them, and a model
that takes `uint8` pixels, normalizes them with builtin ops and returns `probabilities`.

`prepare_images` (channel conversion, cover-resize and center crop) runs inside the SavedModel's
raw-image signature and, before a fixed-size LiteRT or ONNX model is called, in `kerascnn predict`:
the same function in both places, so the three formats see the same pixels.
"""

from __future__ import annotations

import keras

from kerascnn.data.normalization import normalize
from kerascnn.data.transforms import resize_cover

__all__ = ["ServingModel", "prepare_images", "output_is_probability", "GRAY_WEIGHTS"]

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma, as the data pipeline converts.


def output_is_probability(model: keras.Model) -> bool:
    """Whether the model's output already is a softmax or sigmoid (else it gets a softmax)."""
    layer = model.get_layer(model.outputs[0]._keras_history.operation.name)
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation)) in ("softmax", "sigmoid")


def prepare_images(images, input_shape):
    """Raw `(B, H, W, C)` images of any size with 1 to 4 channels -> float32 at the model's size.

    Alpha is dropped (it carries no class information), gray becomes RGB by repetition and RGB
    becomes gray by ITU-R 601 luma; the images are resized to cover `(height, width)`, aspect
    kept, and center-cropped, as `kerascnn.data` prepares evaluation images. Values stay in
    [0, 255]; normalization is the model's job.

    Args:
        images: An integer or float tensor `(B, H, W, C)`, C in 1..4.
        input_shape: The model's `(height, width, channels)`; height and width may be None.

    Returns:
        A float32 tensor `(B, height, width, channels)`.
    """
    import tensorflow as tf

    height, width, channels = input_shape
    x = tf.cast(images, tf.float32)
    count = tf.shape(x)[-1]
    x = tf.cond(tf.equal(count % 2, 0), lambda: x[..., : count - 1], lambda: x)
    if channels == 3:
        x = tf.cond(tf.equal(tf.shape(x)[-1], 1), lambda: tf.tile(x, [1, 1, 1, 3]), lambda: x)
    else:
        gray = tf.constant(GRAY_WEIGHTS)
        x = tf.cond(
            tf.equal(tf.shape(x)[-1], 3),
            lambda: tf.reduce_sum(x * gray, axis=-1, keepdims=True),
            lambda: x,
        )
    x = tf.ensure_shape(x, [None, None, None, channels])
    if height is None or width is None:
        return x
    return tf.map_fn(
        lambda image: resize_cover(image, (height, width)),
        x,
        fn_output_signature=tf.TensorSpec((height, width, channels), tf.float32),
    )


class ServingModel(keras.Model):
    """`uint8` pixels of the model's input size in, `{"probabilities": ...}` out.

    The body is casts and element-wise arithmetic (`kerascnn.data.normalize`), the wrapped model
    at inference (dropout and stochastic depth off, batch statistics frozen) and, for a model
    that returns logits, a softmax: nothing that LiteRT's builtin operators or ONNX lack. It is
    what `model.export(format="litert" | "onnx")` traces; it is never saved as a `.keras` file.

    Args:
        model: The Keras model; its input shape fixes the pixels' shape.
        normalization: A `kerascnn.data.normalize` mode.
        softmax: Apply a softmax to the model's output (True for logits).
    """

    def __init__(self, model: keras.Model, normalization: str, softmax: bool):
        super().__init__(name=f"{model.name}_serving")
        self.net = model
        self.normalization = normalization
        self.softmax = softmax
        self.pixel_shape = tuple(model.inputs[0].shape[1:])

    def call(self, images):
        outputs = keras.ops.cast(self.net(normalize(images, self.normalization), training=False),
                                 "float32")
        if self.softmax:
            outputs = keras.ops.softmax(outputs, axis=-1)
        return {"probabilities": outputs}

    def input_signature(self):
        """The one argument every export takes: `images`, uint8, batch dimension free."""
        import tensorflow as tf

        return [tf.TensorSpec((None, *self.pixel_shape), tf.uint8, name="images")]

    def build_once(self) -> "ServingModel":
        """Calls the model once on zeros: Keras exports only built models."""
        import numpy as np

        self(np.zeros((1, *self.pixel_shape), "uint8"))
        return self
