"""Training recipes as data: each paper's optimizer, learning-rate schedule, batch size, epochs and
augmentation, and two of today's: "modern" (from scratch on ImageNet-sized data) and "small_data".

A `Recipe` states the paper's numbers at the paper's batch size; `kerascnn.train` scales the
learning rate linearly with the global batch size it actually uses (Goyal et al., "Accurate, Large
Minibatch SGD: Training ImageNet in 1 Hour", 2017) and turns the schedule into a Keras
`LearningRateSchedule` (or a `ReduceLROnPlateau` callback) in `kerascnn.training.optim`.

In the papers' recipes weight decay is the L2 penalty, added to the gradient before momentum (as
in Caffe and `torch.optim.SGD`), on every trainable weight as in those papers' Caffe set-ups;
"small_data" uses AdamW's decoupled decay instead, and it and "modern" spare biases and batch-norm
scales and shifts (see `kerascnn.training.recipe` for every field).

Schedules:
    "constant"     the learning rate throughout.
    "step"         multiplied by `gamma` at each epoch in `milestones` (or set to
                   `learning_rate * factors[i]` after milestone i when `factors` is given).
    "plateau"      divided by 1/`gamma` when the validation accuracy stops improving for
                   `patience` epochs (at most `max_reductions` times).
    "exponential"  multiplied by `gamma` every `decay_every` epochs.
    "cosine"       cosine decay to zero over the run (Loshchilov & Hutter, SGDR, ICLR 2017).
    "linear"       linear decay to zero over the run.
"""

from __future__ import annotations

import difflib

from kerascnn.training.recipe import OPTIMIZERS, SCHEDULES, Recipe

__all__ = ["Recipe", "RECIPES", "SCHEDULES", "OPTIMIZERS", "get_recipe", "recipe_for",
           "list_recipes", "resolve_recipe", "resolve_augmentation", "RECIPE_CHOICES",
           "SMALL_DATA_EXAMPLES", "FAMILY_POLICIES_LEFT_OUT", "FAMILY_OPS_LEFT_OUT"]

# `recipe=` also takes these: "auto" (the default) chooses by data size, "paper" is the family's.
RECIPE_CHOICES = ("auto", "paper")
# Below this many training images "auto" trains with "small_data" (tools/recipes_small_data.py).
SMALL_DATA_EXAMPLES = 1000
# What `augmentation="family"` leaves out (tools/recipes_small_data.py; the README's "Small
# data"): the Inception policy's crops of 8% to 100% of the image (Szegedy et al. 2015, section
# 6) cost ShuffleNet v2 x0.5 29 to 36 points on 5 to 20 digits per class and 11 on 40 shapes per
# class; the other policies' flips, which change the class of digits and letters, cost ResNet-20
# 0.8 point on all digits (98.2% against 99.0%, seeds 0-4) and 3.2 on 5 per class, and did not
# help on shapes, whose class a mirror keeps (87.1% against 90.9%).
FAMILY_POLICIES_LEFT_OUT = ("inception",)
FAMILY_OPS_LEFT_OUT = ("flip",)

_RECIPE_LIST = (
    Recipe(
        "lenet",
        "LeCun et al., Gradient-Based Learning Applied to Document Recognition, Proc. IEEE 1998, "
        "section III.B",
        # The paper's 20 passes with its rate dropping after passes 2, 5, 8 and 12 in the ratios
        # 0.0005 : 0.0002 : 0.0001 : 0.00005 : 0.00001, and its distortions (translation,
        # scaling, squeezing, shearing) of the training images.
        learning_rate=0.05,
        batch_size=32,
        epochs=20,
        schedule="step",
        milestones=(2, 5, 8, 12),
        factors=(0.4, 0.2, 0.1, 0.02),
        augmentation=[
            ("translation", {"height_factor": 0.1, "width_factor": 0.1, "fill_mode": "constant"}),
            ("stretch", {"factor": 0.1}),
            ("shear", {"degrees": 10.0}),
        ],
        notes="The paper trains with stochastic diagonal Levenberg-Marquardt (its Appendix C) on "
        "single examples; "
        "here SGD with momentum 0.9 at batch 32 follows its schedule's shape. The base rate 0.05 "
        "was tuned on scikit-learn's digits (>= 98% held-out accuracy in about a minute).",
    ),
    Recipe(
        "lecun1989",
        "LeCun et al., Backpropagation Applied to Handwritten Zip Code Recognition, Neural "
        "Computation 1989",
        # The paper updates the weights after every example (on-line), for 23 passes over the
        # 7,291 training digits, without momentum or weight decay.
        learning_rate=0.03,
        batch_size=1,
        epochs=23,
        schedule="constant",
        momentum=0.0,
        notes="Plain SGD on single examples for 23 passes, as the paper trains. The paper scales "
        "each step by a diagonal Gauss-Newton estimate of the curvature and minimizes the mean "
        "squared error of tanh outputs against +-1 targets; here the rate is constant, 0.03 (the "
        "rate of Karpathy's reproduction, karpathy/lecun1989-repro), and the loss is "
        "cross-entropy, kerascnn's loss for every classifier.",
    ),
    Recipe(
        "alexnet",
        "Krizhevsky, Sutskever, Hinton, ImageNet Classification with Deep Convolutional Neural "
        "Networks, NIPS 2012, section 5",
        learning_rate=0.01,
        batch_size=128,
        epochs=90,
        schedule="plateau",
        weight_decay=0.0005,
        augmentation="alexnet",
        normalization="caffe",
        notes="The paper divides the rate by 10 by hand when the validation error stops "
        "improving (three times); here that is ReduceLROnPlateau with patience 5.",
    ),
    Recipe(
        "vgg",
        "Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, "
        "ICLR 2015, section 3.1",
        learning_rate=0.01,
        batch_size=256,
        epochs=74,
        schedule="plateau",
        weight_decay=0.0005,
        augmentation="vgg",
        normalization="caffe",
        notes="The rate is divided by 10 when the validation accuracy stops improving, three "
        "times (ReduceLROnPlateau, patience 5).",
    ),
    Recipe(
        "googlenet",
        "Szegedy et al., Going Deeper with Convolutions, CVPR 2015, sections 5 and 6",
        learning_rate=0.01,
        batch_size=32,
        epochs=60,
        schedule="exponential",
        gamma=0.96,
        decay_every=8,
        weight_decay=0.0002,
        augmentation="inception",
        normalization="tf",
        aux_loss_weights=(0.3, 0.3),
        notes="The paper gives momentum 0.9, the 4% decrease every 8 epochs and the 0.3 weight "
        "of the auxiliary losses; the base rate 0.01, batch size 32 and weight decay 0.0002 are "
        "those of Caffe's bvlc_googlenet solver, the length its quick solver's 2.4M iterations "
        "of 32 (60 epochs). Asynchronous SGD and Polyak averaging are not reproduced.",
    ),
    Recipe(
        "resnet_imagenet",
        "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016, section 3.4",
        learning_rate=0.1,
        batch_size=256,
        epochs=120,
        schedule="plateau",
        weight_decay=0.0001,
        augmentation="resnet",
        normalization="caffe",
        notes="Up to 60e4 iterations of 256 (about 120 epochs); the rate is divided by 10 when "
        "the error plateaus (ReduceLROnPlateau, patience 5).",
    ),
    Recipe(
        "resnet_cifar",
        "He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016, section 4.2",
        learning_rate=0.1,
        batch_size=128,
        epochs=182,
        schedule="step",
        milestones=(91, 136),
        weight_decay=0.0001,
        augmentation="cifar",
        notes="The paper divides the rate by 10 at 32k and 48k iterations and stops at 64k, on "
        "45k training images at batch 128: epochs 91, 136 and 182. ResNet-110's warm-up at 0.01 "
        "for the first 400 iterations is not part of the recipe.",
    ),
    Recipe(
        "densenet_cifar",
        "Huang, Liu, van der Maaten, Weinberger, Densely Connected Convolutional Networks, "
        "CVPR 2017, section 4.2",
        learning_rate=0.1,
        batch_size=64,
        epochs=300,
        schedule="step",
        milestones=(150, 225),
        nesterov=True,
        weight_decay=0.0001,
        augmentation="cifar",
        notes="The paper adds dropout 0.2 after each convolution when training without "
        "augmentation; that is a model option, not part of the recipe.",
    ),
    Recipe(
        "densenet_imagenet",
        "Huang, Liu, van der Maaten, Weinberger, Densely Connected Convolutional Networks, "
        "CVPR 2017, section 4.2",
        learning_rate=0.1,
        batch_size=256,
        epochs=90,
        schedule="step",
        milestones=(30, 60),
        nesterov=True,
        weight_decay=0.0001,
        augmentation="resnet",
        normalization="torch",
    ),
    Recipe(
        "mobilenet",
        "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018, "
        "section 6.1",
        optimizer="rmsprop",
        learning_rate=0.045,
        batch_size=96,
        epochs=150,
        schedule="exponential",
        gamma=0.98,
        weight_decay=0.00004,
        augmentation="inception",
        normalization="tf",
        notes="MobileNet v1's paper names RMSprop without numbers; these are v2's (decay and "
        "momentum 0.9, rate 0.045 decaying by 0.98 per epoch, weight decay 4e-5, batch 96). "
        "Neither paper states the number of epochs; 150 is a choice.",
    ),
    Recipe(
        "shufflenet",
        "Zhang, Zhou, Lin, Sun, ShuffleNet: An Extremely Efficient Convolutional Neural Network "
        "for Mobile Devices, CVPR 2018, section 4",
        learning_rate=0.5,
        batch_size=1024,
        epochs=240,
        schedule="linear",
        weight_decay=0.00004,
        augmentation="inception",
        normalization="torch",
        notes="3e5 iterations of 1024 images (about 240 epochs), the rate falling linearly from "
        "0.5 to 0.",
    ),
    Recipe(
        "modern",
        "Vryniotis, How to Train State-Of-The-Art Models Using TorchVision's Latest Primitives, "
        "PyTorch blog 2021 (references/classification, ResNet-50 76.1 -> 80.7 top-1); Wightman, "
        "Touvron, Jegou, ResNet strikes back, 2021",
        learning_rate=0.5,
        batch_size=1024,
        epochs=600,
        schedule="cosine",
        warmup_epochs=5,
        weight_decay=0.00002,
        decay_norm_and_bias=False,
        label_smoothing=0.1,
        mixup_alpha=0.2,
        cutmix_alpha=1.0,
        auto_augment="trivialaugment",
        random_erasing=0.1,
        ema_decay=0.9999,
        ema_warmup=True,
        augmentation="inception",
        normalization="torch",
        notes="torchvision's recipe for training from scratch on ImageNet: SGD with momentum, "
        "5 warm-up epochs into cosine decay, label smoothing 0.1, mixup 0.2 / cutmix 1.0, "
        "TrivialAugment, random erasing 0.1, no decay on norms and biases, weight EMA. Its EMA "
        "updates every 32 steps with an adjusted decay; here every step at 0.9999 (timm's "
        "default) after timm's warm-up of the decay. Its 176-pixel training crops and "
        "232-pixel validation resize (FixRes) are not reproduced.",
    ),
    Recipe(
        "small_data",
        "kerascnn: for training or fine-tuning on a few hundred to a few thousand images; "
        "measured in tools/recipes_small_data.py",
        optimizer="adamw",
        learning_rate=0.001,
        batch_size=32,
        epochs=60,
        min_steps=1500,
        schedule="cosine",
        warmup_epochs=3,
        weight_decay=0.05,
        decay_norm_and_bias=False,
        label_smoothing=0.1,
        auto_augment="trivialaugment",
        random_erasing=0.25,
        augmentation="family",
        notes="Small batches and at least 1,500 optimizer steps however small the data (the "
        "papers' batch 128 leaves two steps per epoch on 250 images), AdamW (Loshchilov & "
        "Hutter 2019) with warm-up into cosine decay, label smoothing, TrivialAugment and random "
        "erasing on top of the family's own augmentation policy less its flips, which change the "
        "class of digits and letters (and except the Inception crops, which need ImageNet's "
        "volume of data); no mixup, cutmix or weight average, none of which helped in the runs "
        "of tools/recipes_small_data.py.",
    ),
    Recipe(
        "cifar_cosine",
        "Loshchilov, Hutter, SGDR: Stochastic Gradient Descent with Warm Restarts, ICLR 2017, "
        "section 4 (cosine annealing without restarts)",
        learning_rate=0.05,
        batch_size=128,
        epochs=200,
        schedule="cosine",
        weight_decay=0.0005,
        augmentation="cifar",
    ),
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in _RECIPE_LIST}

# The recipe each family trains with by default; families with a CIFAR and an ImageNet variant
# choose by the model's input size.
_FAMILY_RECIPES = {
    "lenet": "lenet",
    "perceptron": "lenet",
    "mlp": "lenet",
    "lecun1989": "lecun1989",
    "alexnet": "alexnet",
    # Zeiler & Fergus train as Krizhevsky et al. (section 3: SGD, batch 128, rate 0.01,
    # momentum 0.9, annealed by hand on plateaus, dropout 0.5).
    "zfnet": "alexnet",
    "vgg": "vgg",
    "googlenet": "googlenet",
    "inception_v4": "googlenet",
    # The paper's own changes to GoogLeNet's training (section 4.2.1: higher rate, faster
    # decay, less weight decay, no dropout) are stated as factors of an unpublished schedule.
    "bn_inception": "googlenet",
    # NIN's Caffe CIFAR-10 solver (base rate 0.1, momentum 0.9, weight decay 1e-4, divided by 10
    # once) is resnet_cifar's; on ImageNet the paper trains as Krizhevsky et al. did.
    "nin": ("resnet_cifar", "alexnet"),
    **{family: ("resnet_cifar", "resnet_imagenet") for family in (
        "resnet", "resnet_cifar", "plain_cifar", "resnet_v2", "preact_resnet", "wide_resnet",
        "resnext", "notes_resnet")},
    "densenet": ("densenet_cifar", "densenet_imagenet"),
    "mobilenet": "mobilenet",
    "shufflenet": "shufflenet",
    "shufflenet_v2": "shufflenet",
}
_SMALL_INPUT = 64  # At or below this many pixels a side, a model is a CIFAR-style variant.


def list_recipes() -> list[str]:
    """The recipe names, sorted."""
    return sorted(RECIPES)


def resolve_recipe(recipe, family: str | None, input_shape: tuple | None = None,
                   train_examples: int | None = None) -> Recipe:
    """The recipe a run uses.

    Args:
        recipe: None or "auto" ("small_data" below `SMALL_DATA_EXAMPLES` training images, else
            the family's paper recipe), "paper" (the family's paper recipe), a recipe name or a
            `Recipe`.
        family: The model's registry family.
        input_shape: The model's input shape (CIFAR or ImageNet variants of a family).
        train_examples: The training set's size, when known.
    """
    if recipe is None or recipe == "auto":
        if train_examples is not None and train_examples < SMALL_DATA_EXAMPLES:
            return RECIPES["small_data"]
        return recipe_for(family, input_shape)
    if recipe == "paper":
        return recipe_for(family, input_shape)
    return get_recipe(recipe)


def resolve_augmentation(recipe: Recipe, family: str | None, input_shape: tuple | None = None):
    """The recipe's augmentation policy.

    "family" stands for the family's paper recipe's policy less its horizontal flips, unless it
    is one of `FAMILY_POLICIES_LEFT_OUT`, whose crops need far more images than a recipe using
    "family" ("small_data") is for; then none (the recipe's TrivialAugment and random erasing
    remain). A policy that loses ops comes back as a `Policy` config dict named after it
    ("cifar_without_flip").
    """
    if recipe.augmentation != "family":
        return recipe.augmentation
    policy = recipe_for(family, input_shape).augmentation
    if policy is None or policy in FAMILY_POLICIES_LEFT_OUT:
        return None
    from kerascnn.data.augmentation import get_policy

    every_op = get_policy(policy).ops
    ops = [[op, params] for op, params in every_op if op not in FAMILY_OPS_LEFT_OUT]
    if len(ops) == len(every_op):
        return policy
    name = policy if isinstance(policy, str) else "family"
    return {"name": f"{name}_without_{'_'.join(FAMILY_OPS_LEFT_OUT)}", "ops": ops}


def get_recipe(recipe) -> Recipe:
    """Returns a `Recipe` by name (or the `Recipe` itself).

    Raises:
        ValueError: For an unknown name, with the closest names.
    """
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RECIPES:
        return RECIPES[recipe]
    close = difflib.get_close_matches(str(recipe), list(RECIPES), n=3, cutoff=0.4)
    known = ", ".join(list(RECIPE_CHOICES) + list_recipes())
    hint = f" Did you mean: {', '.join(close)}?" if close else f" Known: {known}."
    raise ValueError(f"Unknown recipe. Received: recipe={recipe!r}.{hint}")


def recipe_for(family: str | None, input_shape: tuple | None = None) -> Recipe:
    """The default recipe of a model family ("lenet" for families without one).

    Args:
        family: The registry family ("resnet"), or None for a model from outside the registry.
        input_shape: The model's input shape; families with CIFAR and ImageNet variants pick the
            CIFAR recipe for inputs of at most 64x64 pixels.
    """
    choice = _FAMILY_RECIPES.get(family, "lenet")
    if isinstance(choice, tuple):
        small = bool(input_shape) and len(input_shape) == 3 and max(
            d for d in input_shape[:2] if d) <= _SMALL_INPUT
        choice = choice[0] if small else choice[1]
    return RECIPES[choice]
