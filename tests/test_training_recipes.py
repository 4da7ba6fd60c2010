"""Recipes, schedules, learning-rate scaling and weight decay (no training runs)."""

import keras
import numpy as np
import pytest

from kerascnn.data import get_policy
from kerascnn.training import optim, recipes
from kerascnn.training.recipes import RECIPES, get_recipe, recipe_for


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_usable(name):
    recipe = RECIPES[name]
    assert recipe.schedule in recipes.SCHEDULES and recipe.optimizer in recipes.OPTIMIZERS
    # Every augmentation policy exists in kerascnn.data.
    get_policy(recipes.resolve_augmentation(recipe, "resnet", (32, 32, 3)))
    schedule = optim.make_schedule(recipe, recipe.learning_rate, recipe.epochs, steps_per_epoch=10)
    optimizer = optim.make_optimizer(recipe, schedule)
    optimizer.iterations.assign(optim.warmup_steps(recipe, 10))  # The rate once warmed up.
    assert optimizer.learning_rate.numpy() == pytest.approx(recipe.learning_rate)


def test_paper_numbers():
    # Krizhevsky et al. 2012, section 5: batch 128, momentum 0.9, weight decay 0.0005, rate 0.01.
    alexnet = RECIPES["alexnet"]
    assert (alexnet.batch_size, alexnet.momentum, alexnet.weight_decay, alexnet.learning_rate) == (
        128, 0.9, 0.0005, 0.01)
    # Simonyan & Zisserman 2015, section 3.1: batch 256, weight decay 5e-4, rate 0.01, 74 epochs.
    vgg = RECIPES["vgg"]
    assert (vgg.batch_size, vgg.weight_decay, vgg.learning_rate, vgg.epochs) == (
        256, 5e-4, 0.01, 74)
    # Szegedy et al. 2015, sections 5-6: rate down 4% every 8 epochs; auxiliary losses weigh 0.3.
    googlenet = RECIPES["googlenet"]
    assert (googlenet.gamma, googlenet.decay_every, googlenet.aux_loss_weights) == (
        0.96, 8, (0.3, 0.3))
    # He et al. 2016, section 4.2: rate 0.1 / 10 at 32k and 48k iterations, stop at 64k, batch
    # 128 on 45k images: 32000 * 128 / 45000 = 91.0, 48000 * 128 / 45000 = 136.5, 64k -> 182.
    cifar = RECIPES["resnet_cifar"]
    assert (cifar.learning_rate, cifar.batch_size, cifar.weight_decay) == (0.1, 128, 1e-4)
    assert cifar.milestones == (91, 136) and cifar.epochs == 182
    # Huang et al. 2017, section 4.2: batch 64, 300 epochs, / 10 at 50% and 75%, Nesterov.
    densenet = RECIPES["densenet_cifar"]
    assert (densenet.batch_size, densenet.epochs, densenet.milestones, densenet.nesterov) == (
        64, 300, (150, 225), True)


def test_recipe_lookup():
    assert recipe_for("resnet_cifar", (32, 32, 3)).name == "resnet_cifar"
    assert recipe_for("resnet", (224, 224, 3)).name == "resnet_imagenet"
    assert recipe_for("resnet", (32, 32, 3)).name == "resnet_cifar"
    assert recipe_for("densenet", (224, 224, 3)).name == "densenet_imagenet"
    assert recipe_for("lenet", (32, 32, 1)).name == "lenet"
    assert recipe_for(None).name == "lenet"
    with pytest.raises(ValueError,
                       match=r"Received: recipe='resnet_cifa'.*Did you mean: resnet_cifar"):
        get_recipe("resnet_cifa")


def test_small_data_keeps_the_family_policy_less_its_flips_but_not_the_inception_crops():
    small_data = RECIPES["small_data"]
    resolve = recipes.resolve_augmentation
    # LeNet's distortions have no flip: the paper's policy as it is.
    assert resolve(small_data, "lenet", (32, 32, 1)) == RECIPES["lenet"].augmentation
    # He et al. 2016's CIFAR policy is a 4-pixel pad-and-crop and a flip: the crop stays.
    cifar = get_policy(resolve(small_data, "resnet", (32, 32, 3)))
    assert cifar.name == "cifar_without_flip" and cifar.ops == [("pad_crop", {"padding": 4})]
    imagenet = get_policy(resolve(small_data, "resnet", (224, 224, 3)))
    assert [op for op, _ in imagenet.ops] == [
        "resize", "scale_jitter", "random_crop", "pca_lighting"]
    assert resolve(small_data, "shufflenet_v2", (64, 64, 3)) is None
    assert resolve(small_data, "googlenet", (224, 224, 3)) is None
    # The paper's recipe keeps the paper's crops and flips.
    assert resolve(recipe_for("shufflenet_v2"), "shufflenet_v2", (64, 64, 3)) == "inception"
    assert resolve(recipe_for("resnet", (32, 32, 3)), "resnet", (32, 32, 3)) == "cifar"


def test_linear_learning_rate_scaling():
    # Goyal et al. 2017: "multiply the learning rate by k" for a k times larger minibatch;
    # ResNet-50's 0.1 at 256 becomes 0.1 * 8192 / 256 = 3.2 at 8192.
    assert optim.scaled_learning_rate(RECIPES["resnet_imagenet"], 8192) == pytest.approx(3.2)
    assert optim.scaled_learning_rate(RECIPES["resnet_imagenet"], 64) == pytest.approx(0.025)


def test_step_schedule_follows_and_stretches_the_milestones():
    recipe = RECIPES["resnet_cifar"]
    schedule = optim.make_schedule(recipe, 0.1, epochs=182, steps_per_epoch=100)
    rates = [float(schedule(step)) for step in (0, 9099, 9101, 13599, 13601)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.01, 0.001], rtol=1e-5)
    # A run half as long keeps the shape: the drops move to epochs 45.5 and 68.
    half = optim.make_schedule(recipe, 0.1, epochs=91, steps_per_epoch=100)
    np.testing.assert_allclose([float(half(4549)), float(half(4551)), float(half(6801))],
                               [0.1, 0.01, 0.001], rtol=1e-5)


def test_lenet_schedule_uses_the_papers_ratios():
    # LeCun et al. 1998, section III.B: 0.0005, 0.0002, 0.0001, 0.00005, 0.00001 after passes 2, 5,
    # 8 and 12, i.e. 1 : 0.4 : 0.2 : 0.1 : 0.02 of the first rate.
    schedule = optim.make_schedule(RECIPES["lenet"], 1.0, epochs=20, steps_per_epoch=10)
    rates = [float(schedule(epoch * 10 + 5)) for epoch in (0, 3, 6, 9, 15)]
    np.testing.assert_allclose(rates, [1.0, 0.4, 0.2, 0.1, 0.02], rtol=1e-5)


def test_plateau_recipe_uses_reduce_on_plateau():
    recipe = RECIPES["alexnet"]
    assert optim.make_schedule(recipe, 0.01, 90, 10) == 0.01
    callback = optim.plateau_callback(recipe, 0.01, "val_accuracy")
    assert isinstance(callback, keras.callbacks.ReduceLROnPlateau)
    assert callback.factor == pytest.approx(0.1) and callback.mode == "max"
    assert optim.plateau_callback(RECIPES["resnet_cifar"], 0.1, "val_accuracy") is None


def test_weight_decay_is_coupled_l2():
    # Caffe / torch.optim.SGD: the gradient becomes g + weight_decay * w before momentum; with
    # momentum 0 one step moves w to w - lr * (g + wd * w).
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(4, 2)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    assert optim.apply_weight_decay(model, 0.1) == 2
    model.compile(keras.optimizers.SGD(0.5), "mse")
    model.train_on_batch(x, y)
    expected = [w - 0.5 * (g + 0.1 * w) for w, g in zip(before, grads)]
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The penalty lives on the variables, not in the layer config, so saved models are unchanged.
    assert model.layers[0].get_config()["kernel_regularizer"] is None


def test_every_registered_family_has_its_own_recipe():
    import kerascnn
    from kerascnn.registry import get_entry
    from kerascnn.training import recipes

    families = {get_entry(name).family for name in kerascnn.list_models()}
    missing = families - set(recipes._FAMILY_RECIPES)
    assert not missing, f"families falling back to the lenet recipe: {sorted(missing)}"
