"""The weight average's warm-up (`kerascnn.training.ema`), checked against timm's definition."""

import keras
import numpy as np
import pytest

from kerascnn.training import ema, optim
from kerascnn.training.recipes import RECIPES


def timm_decay(step, decay, power=2 / 3):
    # timm.utils.model_ema.ModelEmaV3.get_decay(step) with use_warmup=True, warmup_gamma=1 and
    # update_after_step=0, where train.py passes the number of updates done, so 1 at the first:
    # step' = step - 1; 0 at step' <= 0; else min(decay, 1 - (1 + step') ** -power).
    step = max(0, step - 1)
    return 0.0 if step <= 0 else min(decay, 1 - (1 + step) ** -power)


def _steps(optimizer, count, seed=0, constant=False):
    """Applies `count` random (or all-ones) gradients to two variables; the weights after each
    step."""
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=(3, 2)).astype("float32")),
                 keras.Variable(rng.normal(size=(2,)).astype("float32"))]
    optimizer.build(variables)
    after = []
    for _ in range(count):
        grads = [np.ones(v.shape, "float32") if constant else
                 rng.normal(size=v.shape).astype("float32") for v in variables]
        optimizer.apply(grads, variables)
        after.append([v.numpy().copy() for v in variables])
    return after


@pytest.mark.parametrize("optimizer_class, options", [
    (ema.SGD, {"momentum": 0.9}), (ema.AdamW, {"weight_decay": 0.05}),
])
def test_average_follows_timm_warmup(optimizer_class, options):
    optimizer = optimizer_class(0.1, use_ema=True, ema_momentum=0.9, **options)
    after = _steps(optimizer, 40)
    expected = [np.zeros_like(w) for w in after[0]]
    for update, weights in enumerate(after, start=1):
        decay = timm_decay(update, 0.9)  # 0 at the first: the average starts as the weights.
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights)]
    averages = [v.numpy() for v in optimizer._model_variables_moving_average]
    for average, want in zip(averages, expected):
        np.testing.assert_allclose(average, want, rtol=1e-5, atol=1e-6)
    # The warm-up passed the cap of 0.9 before step 40 (0.91 then uncapped).
    assert timm_decay(40, 0.9) == 0.9 and timm_decay(20, 0.9) < 0.9


def test_short_run_average_tracks_the_weights_unlike_a_fixed_decay():
    # 300 steps of constant gradients at timm's 0.9999, the weights moving in a straight line:
    # Keras's fixed decay keeps 97% of the first step's weights (0.9999 ** 299) and moves about
    # (1 - 0.9999) * 299 / 2 = 1.5% of the way from them to the last.
    warmed = ema.SGD(0.05, use_ema=True, ema_momentum=0.9999)
    fixed = keras.optimizers.SGD(0.05, use_ema=True, ema_momentum=0.9999)
    after = _steps(fixed, 300, constant=True)
    assert np.allclose(_steps(warmed, 300, constant=True)[-1][0], after[-1][0])
    first, last = after[0][0], after[-1][0]
    fixed_average = fixed._model_variables_moving_average[0].numpy()
    warmed_average = warmed._model_variables_moving_average[0].numpy()
    assert np.abs(fixed_average - first).max() < 0.02 * np.abs(last - first).max()
    # The warmed average's decay at step 300 is 1 - 300 ** (-2/3) = 0.978: an average of about
    # its last 45 steps, so far nearer the last weights than the first.
    assert np.abs(warmed_average - last).max() < 0.25 * np.abs(warmed_average - first).max()


def test_warmup_optimizers_serialize_and_load_with_the_model(tmp_path):
    optimizer = ema.AdamW(0.01, use_ema=True, ema_momentum=0.99, ema_warmup_power=0.75)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is ema.AdamW and again.ema_warmup_power == 0.75
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=ema.SGD(0.1, use_ema=True, ema_momentum=0.99), loss="mse")
    model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.optimizer) is ema.SGD and loaded.optimizer.use_ema


def test_recipes_choose_the_warmup_by_field():
    modern = RECIPES["modern"]
    assert modern.ema_warmup and modern.ema_decay == 0.9999
    assert isinstance(optim.make_optimizer(modern, 0.1), ema.SGD)
    plain = modern.replace(ema_warmup=False)
    assert type(optim.make_optimizer(plain, 0.1)) is keras.optimizers.SGD
    small = RECIPES["small_data"].replace(ema_decay=0.99, ema_warmup=True)
    assert isinstance(optim.make_optimizer(small, 0.001), ema.AdamW)
    with pytest.raises(ValueError, match="ema_warmup must be True or False. Received: "
                                         "ema_warmup='yes'"):
        modern.replace(ema_warmup="yes")
    with pytest.raises(ValueError, match="ema_warmup_power must be a number > 0. Received: "
                                         "ema_warmup_power=0"):
        ema.SGD(0.1, ema_warmup_power=0)
