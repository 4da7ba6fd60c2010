"""The model a run trains and the datasets it feeds: built under the run's strategy, the
inference model without auxiliary classifiers, pipelines sharded by data across workers."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerascnn.training.compiling import MAIN_OUTPUT

__all__ = ["inference_model", "build_model", "shard_by_data"]


def inference_model(model: keras.Model) -> keras.Model:
    """The model without auxiliary classifiers: only its main (`predictions`) output."""
    if len(model.outputs) == 1:
        return model
    main = model.get_layer(MAIN_OUTPUT).output
    return keras.Model(model.input, main, name=model.name)


def build_model(spec, num_classes: int, strategy) -> keras.Model:
    """The model of a `ModelSpec` for `num_classes`, its variables under `strategy`."""
    previous = keras.config.dtype_policy().name
    if spec.policy:
        keras.config.set_dtype_policy(spec.policy)
    try:
        with strategy.scope():
            if spec.adapt is not None:
                return spec.adapt(spec.given, num_classes)
            if spec.given is not None:
                if strategy.num_replicas_in_sync == 1:
                    return spec.given
                # Variables must live under the strategy: rebuild the model there, same weights.
                clone = keras.models.clone_model(spec.given)
                clone.set_weights(spec.given.get_weights())
                return clone
            from kerascnn.registry import build

            kwargs = {"num_classes": num_classes, **spec.build_kwargs,
                      "input_shape": spec.input_shape}
            return build(spec.name, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)


def shard_by_data(dataset):
    """`dataset` sharded between workers by element, not by file (`AutoShardPolicy.DATA`): the
    data may be one file, or none."""
    if dataset is None:
        return None
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
