"""Training recipes as data: each paper's optimizer, learning-rate schedule, batch size, epochs and
augmentation.

A `Recipe` states the paper's numbers at the paper's batch size; `kerascnn.train` scales the
learning rate linearly with the global batch size it actually uses (Goyal et al., "Accurate, Large
Minibatch SGD: Training ImageNet in 1 Hour", 2017) and turns the schedule into a Keras
`LearningRateSchedule` (or a `ReduceLROnPlateau` callback) in `kerascnn.training.optim`.

Weight decay is the papers' L2 penalty, added to the gradient before momentum (as in Caffe and
`torch.optim.SGD`), not Keras's decoupled `weight_decay`; it applies to every trainable weight, as
in those papers' Caffe set-ups.

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

import dataclasses
import difflib

__all__ = ["Recipe", "RECIPES", "SCHEDULES", "get_recipe", "recipe_for", "list_recipes"]

SCHEDULES = ("constant", "step", "plateau", "exponential", "cosine", "linear")
OPTIMIZERS = ("sgd", "rmsprop", "adam")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a paper trained its network.

    Attributes:
        name: Recipe name ("resnet_cifar").
        paper: The source of the numbers.
        learning_rate: Initial learning rate at `batch_size`.
        batch_size: The paper's global batch size.
        epochs: Passes over the training data.
        schedule: One of `SCHEDULES`.
        optimizer: "sgd" (default), "rmsprop" or "adam".
        momentum: Momentum (0.9 in every paper here).
        nesterov: Nesterov momentum (DenseNet).
        weight_decay: L2 coefficient, added to the gradient as `weight_decay * w`.
        milestones: Epochs at which a "step" schedule changes the learning rate.
        factors: Optional multipliers of the initial rate after each milestone ("step").
        gamma: Multiplier per step, plateau or decay ("step", "plateau", "exponential").
        decay_every: Epochs between "exponential" decays.
        patience: Epochs without improvement before a "plateau" reduction.
        max_reductions: Reductions a "plateau" schedule makes at most.
        augmentation: A `kerascnn.data` augmentation policy name, a list of ops, or None.
        normalization: Input normalization for 3-channel inputs ("unit", "caffe", "torch", "tf");
            one-channel inputs always use "unit".
        aux_loss_weights: Loss weights of auxiliary classifiers (GoogLeNet: 0.3 each).
        notes: Where the recipe departs from, or fills a gap in, the paper.
    """

    name: str
    paper: str
    learning_rate: float
    batch_size: int
    epochs: int
    schedule: str
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    milestones: tuple = ()
    factors: tuple = ()
    gamma: float = 0.1
    decay_every: int = 1
    patience: int = 5
    max_reductions: int = 3
    augmentation: object = None
    normalization: str = "unit"
    aux_loss_weights: tuple = ()
    notes: str = ""

    def to_dict(self) -> dict:
        """The recipe as JSON-ready data (tuples become lists)."""
        fields = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}


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
    "alexnet": "alexnet",
    "vgg": "vgg",
    "googlenet": "googlenet",
    "inception_v4": "googlenet",
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
    known = ", ".join(list_recipes())
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
