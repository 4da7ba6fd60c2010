"""Evaluation with crops: the center crop and the 10-crop test-time average, top-1 and top-5.

Krizhevsky et al. 2012 (section 4.1): "At test time, the network makes a prediction by
extracting five 224x224 patches (the four corner patches and the center patch) as well as their
horizontal reflections (hence ten patches in all), and averaging the predictions made by the
network's softmax layer on the ten patches." Use `DataBundle.validation_uncropped`, whose images
keep the size the augmentation policy stores (256x256 for AlexNet's 224 crops).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from kerascnn.data.transforms import center_crop
from kerascnn.validation import check_choice

__all__ = ["CROPS", "center_crop", "ten_crops", "evaluate_crops"]

CROPS = ("center", "ten")


def ten_crops(images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """The four corners, the center and their horizontal flips of an (B, H, W, C) batch.

    Args:
        images: Batch of images at least `size` large.
        size: (height, width) of the crops.

    Returns:
        A (10, B, height, width, C) tensor: top-left, top-right, bottom-left, bottom-right,
        center, then the same five flipped left-right.
    """
    height, width = size
    shape = tf.shape(images)
    bottom, right = shape[1] - height, shape[2] - width
    corners = [images[:, y:y + height, x:x + width, :]
               for y, x in ((0, 0), (0, right), (bottom, 0), (bottom, right))]
    five = tf.stack(corners + [center_crop(images, size)], axis=0)
    return tf.concat([five, tf.reverse(five, axis=[3])], axis=0)


def _outputs_probabilities(model) -> bool:
    try:  # kerascnn's classifiers (and keras.applications') name their output "predictions".
        layer = model.get_layer("predictions")
    except ValueError:
        layer = model.layers[-1]
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def _crop_size(model, crop_size) -> tuple[int, int]:
    if crop_size is not None:
        return tuple(int(d) for d in crop_size)
    shape = model.input_shape
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            "The model takes images of any size; say which crops to evaluate. "
            f"Received: crop_size=None for model input_shape={shape}"
        )
    return int(shape[1]), int(shape[2])


def evaluate_crops(
    model,
    data,
    *,
    crops: str = "center",
    crop_size: tuple[int, int] | None = None,
    top_k: tuple[int, ...] = (1, 5),
    from_logits: bool | None = None,
    verbose: int = 1,
) -> dict:
    """Runs `model` over `data` with center or 10-crop inputs and reports top-k accuracy.

    With `crops="ten"`, the softmax outputs of the ten crops are averaged before ranking, as in
    AlexNet. Images must be at least the crop size; images of exactly the crop size make the
    ten crops the image and its flip, five times each.

    Args:
        model: A Keras classifier on batches of images (with several outputs, the one named
            "predictions" or else the first is scored).
        data: A `DataBundle` (its `validation_uncropped` split is used) or a `tf.data.Dataset`
            of batches `(images, labels)` with integer labels, normalized as the model expects.
        crops: "center" (default) or "ten".
        crop_size: (height, width) of the crops; default the model's input size.
        top_k: The k of the reported top-k accuracies (capped at the number of classes).
        from_logits: Whether the model outputs logits; default: looks at its last layer.
        verbose: 1 shows a progress bar.

    Returns:
        {"top1": float, "top5": float (one "topK" per `top_k`), "loss": mean cross-entropy of
        the (averaged) probabilities, "examples": int, "crops": crops}.

    Raises:
        ValueError: For unknown `crops`, a bundle without validation data, or images smaller
            than the crops.
    """
    check_choice(crops, "crops", CROPS)
    dataset = data
    if hasattr(data, "validation_uncropped"):
        dataset = data.validation_uncropped or data.validation
        if dataset is None:
            raise ValueError("data has no validation split to evaluate. Received: a DataBundle "
                             "with validation=None")
    size = _crop_size(model, crop_size)
    spec = dataset.element_spec[0].shape
    if spec.rank == 4 and any(s is not None and s < t for s, t in zip(spec[1:3], size)):
        raise ValueError(
            f"Images of {tuple(spec[1:3])} are smaller than the {size} crops. "
            f"Received: crop_size={size}"
        )
    probabilities = not from_logits if from_logits is not None else _outputs_probabilities(model)

    def run(images):
        outputs = model(images, training=False)
        if isinstance(outputs, dict):  # Auxiliary classifiers (GoogLeNet): the main output.
            outputs = outputs.get("predictions", next(iter(outputs.values())))
        elif isinstance(outputs, (list, tuple)):
            outputs = outputs[0]
        outputs = tf.cast(outputs, tf.float32)
        return outputs if probabilities else tf.nn.softmax(outputs)

    @tf.function(reduce_retracing=True)
    def predict(images):
        if crops == "ten":
            batch = tf.shape(images)[0]
            views = ten_crops(images, size)
            flat = tf.reshape(views, tf.concat([[-1], tf.shape(views)[2:]], axis=0))
            return tf.reduce_mean(tf.reshape(run(flat), [10, batch, -1]), axis=0)
        return run(center_crop(images, size))

    steps = int(dataset.cardinality())
    bar = keras.utils.Progbar(steps if steps > 0 else None) if verbose else None
    hits, total, loss = None, 0, 0.0
    for step, (images, labels) in enumerate(dataset, 1):
        probs = predict(images)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        ks = [min(k, int(probs.shape[-1])) for k in top_k]
        batch_hits = [int(tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, probs, k), tf.int32)))
                      for k in ks]
        hits = batch_hits if hits is None else [a + b for a, b in zip(hits, batch_hits)]
        picked = tf.gather(probs, labels, axis=1, batch_dims=1)
        loss += float(-tf.reduce_sum(tf.math.log(tf.maximum(picked, 1e-7))))
        total += int(labels.shape[0])
        if bar is not None:
            bar.update(step, values=[(f"top{top_k[0]}", batch_hits[0] / max(1, labels.shape[0]))])
    if not total:
        raise ValueError("data has no examples to evaluate. Received: an empty dataset")
    result = {f"top{k}": hits[i] / total for i, k in enumerate(top_k)}
    result.update(loss=loss / total, examples=total, crops=crops)
    return result
