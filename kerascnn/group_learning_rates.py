"""Learning rates per block group in one optimizer, as a serializable Keras 3 optimizer.

Keras 3 has no `MultiOptimizer` (keras-team/keras#21741). `GroupLearningRates` wraps any Keras
optimizer and multiplies its learning rate by a factor chosen from each variable's block group
(`conv4_block2_1_conv/kernel` is in group `conv4`): the head at the base rate and the fine-tuned
stages at a tenth, as the transfer-learning recipe of the CS5242 notes has it, or a layer-wise
decay.
The factor scales the step itself (and the decoupled weight decay with it), not the gradient, so it
means the same for SGD, Adam or AdamW — Adam would cancel a gradient scale.

It saves with the model (`model.save` / `kerascnn.load`): the wrapped optimizer, the factors and the
optimizer state all round-trip.
"""

from __future__ import annotations

import fnmatch

import keras

from kerascnn.groups import group_of

__all__ = ["GroupLearningRates"]


def _multiplier_for(path: str, multipliers: dict, default: float) -> float:
    # A path is "[outer_model/]layer_name/variable"; the first component naming a known group wins.
    for component in path.split("/")[:-1]:
        group = group_of(component)
        if group in multipliers:
            return multipliers[group]
        for pattern, factor in multipliers.items():
            if fnmatch.fnmatchcase(group, pattern):
                return factor
    return default


@keras.saving.register_keras_serializable(package="kerascnn")
class GroupLearningRates(keras.optimizers.Optimizer):
    """Wraps an optimizer so that each block group trains at its own learning rate.

    Args:
        optimizer: A Keras optimizer instance, name, or serialized config (the base optimizer; its
            learning rate, or schedule, is the base rate).
        multipliers: `{group or glob pattern: factor}`, e.g. `{"head": 1.0, "conv5": 0.1}`.
        default_multiplier: Factor for variables whose group is not listed (default 1.0).
        name: Optimizer name.

    Raises:
        ValueError: If a factor is negative or not a number.
    """

    def __init__(self, optimizer, multipliers, default_multiplier: float = 1.0,
                 name: str = "group_learning_rates", **kwargs):
        optimizer = keras.optimizers.get(optimizer)
        checked = {}
        for group, factor in dict(multipliers).items():
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
                raise ValueError(
                    f"multipliers must map group names to non-negative numbers. "
                    f"Received: multipliers={multipliers!r}"
                )
            checked[str(group)] = float(factor)
        number = isinstance(default_multiplier, (int, float)) and \
            not isinstance(default_multiplier, bool)
        if not number or default_multiplier < 0:
            raise ValueError(
                "default_multiplier must be a non-negative number. "
                f"Received: default_multiplier={default_multiplier!r}"
            )
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner_optimizer = optimizer
        self.multipliers = checked
        self.default_multiplier = float(default_multiplier)
        self.__dict__["_factors"] = []  # Plain floats: nothing for the tracker to own.
        # Route the wrapped optimizer's per-variable steps through the group factors.
        self.inner_optimizer.__dict__["update_step"] = self._scaled_update_step
        self.inner_optimizer.__dict__["_apply_weight_decay"] = self._scaled_weight_decay

    def factor_for(self, variable) -> float:
        """The learning-rate factor that applies to `variable` (a Keras variable)."""
        return _multiplier_for(variable.path, self.multipliers, self.default_multiplier)

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        self.__dict__["_factors"] = [self.factor_for(v) for v in var_list]
        self.built = True

    def _scaled_update_step(self, gradient, variable, learning_rate):
        inner = self.inner_optimizer
        factor = self._factors[inner._get_variable_index(variable)]
        if factor == 0.0:
            return None
        return type(inner).update_step(inner, gradient, variable, learning_rate * factor)

    def _scaled_weight_decay(self, variables):
        inner = self.inner_optimizer
        if inner.weight_decay is None:
            return
        import tensorflow as tf

        def distributed_decay(distribution, variables):
            for variable in variables:
                if not inner._use_weight_decay(variable):
                    continue
                factor = self._factors[inner._get_variable_index(variable)]
                rate = tf.cast(inner.learning_rate * factor * inner.weight_decay, variable.dtype)

                def decay(v, rate=rate):
                    v.assign_sub(v * rate)

                value = variable.value if isinstance(variable, keras.Variable) else variable
                distribution.extended.update(value, decay, group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            distributed_decay, inner._distribution_strategy, variables
        )

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is not None and not self.built:
            self.build(list(trainable_variables))
        self.inner_optimizer.apply(grads, trainable_variables)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise ValueError(
            "GroupLearningRates supports the TensorFlow backend's stateful updates only."
        )

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.optimizers.serialize(self.inner_optimizer),
            "multipliers": dict(self.multipliers),
            "default_multiplier": self.default_multiplier,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(
            config["optimizer"], custom_objects=custom_objects
        )
        return cls(**config)
