"""`Recipe`: how a network is trained, as data: optimizer, schedule, batch size, epochs,
augmentation, and the regularizers of today's recipes.

A paper's recipe states the paper's numbers at the paper's batch size; `kerascnn.train` scales the
learning rate linearly with the global batch size it actually uses (Goyal et al., "Accurate, Large
Minibatch SGD: Training ImageNet in 1 Hour", 2017) and turns the schedule into a Keras
`LearningRateSchedule` (or a `ReduceLROnPlateau` callback) in `kerascnn.training.optim`.

The optional fields after `notes` are the features that today's recipes combine (timm's
`train.py`; torchvision's `references/classification`, whose recipe took ResNet-50 from 76.1 to
80.7 top-1): each is off at its default, so a paper's recipe is exactly the paper's. Keras's own
pieces do the work: `CategoricalCrossentropy(label_smoothing=...)`, `keras.layers.MixUp`,
`CutMix`, `RandAugment` and `RandomErasing` in the tf.data pipeline, the optimizers' `use_ema`,
`global_clipnorm` and `exclude_from_weight_decay`, `CosineDecay(warmup_steps=...)`.
"""

from __future__ import annotations

import dataclasses

from kerascnn import validation

__all__ = ["Recipe", "SCHEDULES", "OPTIMIZERS", "AUTO_AUGMENTS"]

SCHEDULES = ("constant", "step", "plateau", "exponential", "cosine", "linear")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
AUTO_AUGMENTS = (None, "randaugment", "trivialaugment")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a network is trained.

    Attributes:
        name: Recipe name ("resnet_cifar").
        paper: The source of the numbers.
        learning_rate: Initial learning rate at `batch_size`.
        batch_size: The recipe's global batch size.
        epochs: Passes over the training data.
        schedule: One of `SCHEDULES`.
        optimizer: "sgd" (default), "rmsprop", "adam" or "adamw".
        momentum: Momentum (0.9 in every paper here).
        nesterov: Nesterov momentum (DenseNet).
        weight_decay: With "adamw", the decoupled decay of Loshchilov & Hutter ("Decoupled Weight
            Decay Regularization", ICLR 2019), Keras's `AdamW(weight_decay=...)`; with the other
            optimizers, the papers' L2 coefficient, added to the gradient as `weight_decay * w`
            before momentum (as in Caffe and `torch.optim.SGD`).
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
        decay_norm_and_bias: Whether weight decay also applies to batch-norm scales and shifts
            and to biases (the papers: yes; timm and torchvision's new recipe: no).
        warmup_epochs: Epochs over which the rate rises linearly from 0 to `learning_rate`
            before the schedule starts (Goyal et al. 2017, section 2.2).
        clip_norm: Clip gradients to this global norm (Pascanu et al., ICML 2013), or None.
        label_smoothing: Mass moved from the true class to the uniform distribution (Szegedy et
            al., "Rethinking the Inception Architecture", CVPR 2016, section 7).
        mixup_alpha: Beta(alpha, alpha) mixing of pairs of images and labels (Zhang et al.,
            "mixup", ICLR 2018); 0 for none.
        cutmix_alpha: Beta(alpha, alpha) area of pasted patches (Yun et al., "CutMix", ICCV
            2019); 0 for none.
        mix_probability: Share of batches that are mixed at all when mixing is on.
        switch_probability: With both mixup and cutmix on, the share of mixed batches that use
            cutmix (timm's `switch_prob`).
        mix_stop_epoch: Epoch after which mixing stops (None: it never stops); moves in
            proportion when a run is longer or shorter than the recipe.
        auto_augment: None, "randaugment" (Cubuk et al., CVPR-W 2020) or "trivialaugment"
            (Muller & Hutter, ICCV 2021: one op per image at a uniformly drawn strength).
        auto_augment_ops: Ops applied per image by "randaugment".
        auto_augment_magnitude: Strength in [0, 1] (timm's `rand-mM` is M / 10), the largest one
            Keras's `RandAugment` draws from.
        random_erasing: Probability of erasing one random rectangle per image (Zhong et al.,
            "Random Erasing Data Augmentation", AAAI 2020); 0 for none.
        erasing_fill: The erased rectangle's value in [0, 255], as Zhong et al.'s and timm's
            constant fill; None for Keras's `RandomErasing` noise (a normal draw times 255,
            clipped: about half of the pixels black and a sixth white).
        ema_decay: Decay of an exponential moving average of the weights (Polyak & Juditsky
            1992; timm's `--model-ema-decay`), used for validation, checkpoints and the final
            model; 0 for none.
        ema_warmup: Whether the average's decay grows with the step up to `ema_decay`, as
            timm's `--model-ema-warmup` (`kerascnn.training.ema`): without it a run of a few
            thousand steps ends with an average of mostly its initial weights.
        min_steps: The run lasts at least this many optimizer steps: epochs are raised on small
            datasets, where an epoch is a handful of steps.
        min_batches: A pass over the training data makes at least this many batches: on a set
            smaller than `min_batches * batch_size` images the batch shrinks to a share of it,
            at the recipe's learning rate, so that each step draws a different subset rather
            than the whole set (0: the batch is `batch_size` however small the set).
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
    decay_norm_and_bias: bool = True
    warmup_epochs: float = 0.0
    clip_norm: float | None = None
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_probability: float = 1.0
    switch_probability: float = 0.5
    mix_stop_epoch: int | None = None
    auto_augment: str | None = None
    auto_augment_ops: int = 2
    auto_augment_magnitude: float = 0.5
    random_erasing: float = 0.0
    erasing_fill: float | None = None
    ema_decay: float = 0.0
    ema_warmup: bool = False
    min_steps: int = 0
    min_batches: int = 0

    def __post_init__(self):
        validation.check_choice(self.schedule, "schedule", SCHEDULES)
        validation.check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        validation.check_choice(self.auto_augment, "auto_augment", AUTO_AUGMENTS)
        validation.check_positive_int(self.batch_size, "batch_size")
        validation.check_positive_int(self.epochs, "epochs")
        validation.check_positive_int(self.auto_augment_ops, "auto_augment_ops")
        validation.check_positive_int(self.min_steps, "min_steps", minimum=0)
        validation.check_positive_int(self.min_batches, "min_batches", minimum=0)
        for name in ("label_smoothing", "mix_probability", "switch_probability",
                     "auto_augment_magnitude", "random_erasing"):
            validation.check_fraction(getattr(self, name), name, inclusive_high=True)
        validation.check_fraction(self.ema_decay, "ema_decay")
        for name in ("learning_rate", "weight_decay", "warmup_epochs", "mixup_alpha",
                     "cutmix_alpha"):
            if not (isinstance(getattr(self, name), (int, float)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a number >= 0. "
                                 f"Received: {name}={getattr(self, name)!r}")
        if self.clip_norm is not None and not (
            isinstance(self.clip_norm, (int, float)) and self.clip_norm > 0
        ):
            raise ValueError(f"clip_norm must be None or > 0. Received: clip_norm={self.clip_norm!r}")
        if not isinstance(self.ema_warmup, bool):
            raise ValueError(f"ema_warmup must be True or False. "
                             f"Received: ema_warmup={self.ema_warmup!r}")
        if self.erasing_fill is not None and not (
            isinstance(self.erasing_fill, (int, float)) and 0 <= self.erasing_fill <= 255
        ):
            raise ValueError(f"erasing_fill must be None or a number in [0, 255]. "
                             f"Received: erasing_fill={self.erasing_fill!r}")
        if self.mix_stop_epoch is not None:
            validation.check_positive_int(self.mix_stop_epoch, "mix_stop_epoch", minimum=0)

    @property
    def mixes(self) -> bool:
        """Whether batches are mixed (mixup or cutmix)."""
        return bool(self.mixup_alpha or self.cutmix_alpha) and self.mix_probability > 0

    @property
    def soft_labels(self) -> bool:
        """Whether training needs one-hot (soft) labels: label smoothing or mixing."""
        return bool(self.label_smoothing) or self.mixes

    def replace(self, **changes) -> Recipe:
        """A copy with `changes` (validated like a new recipe), e.g. for an ablation."""
        unknown = sorted(set(changes) - {field.name for field in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"Recipe has no field {unknown[0]!r}. Received: {unknown[0]}="
                             f"{changes[unknown[0]]!r}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The recipe as JSON-ready data (tuples become lists)."""
        fields = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}

