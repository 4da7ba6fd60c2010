"""Advice before training: whether the data is too small for the network chosen, and what would
serve better.

Deep networks trained from scratch need data. Measured with `tools/recipes_small_data.py` (the
README's "Small data"), below about 100 images per class how a larger network fares depends on
the network more than on its size, even with the "small_data" recipe: on scikit-learn's digits
ShuffleNet v2 x0.5 (0.35M parameters) is behind LeNet-5 (62k) by 15.0, 10.2, 6.3 and 3.7 points
at 5, 10, 20 and 50 images per class, while ResNet-20 (0.27M) is level with it (1.5 and 0.2
points behind at 5 and 10, 0.1 and 0.5 ahead at 20 and 50; means of five seeds); on a generated
three-shape folder with 40 images per class ResNet-20 (88%) is ahead of LeNet-5 (80%) and
ShuffleNet v2 x0.5 (46%) far behind both, under a two-convolution CNN, while ResNet-20 trained the
tutorial way or with the paper's recipe scores near chance; with 5 to 20 per class LeNet-5 (52% to
75%) is ahead of ResNet-20 (41% to 64%) and ShuffleNet stays near chance. A pretrained network
fine-tuned does better still
(`kerascnn.fine_tune`, with the plan of `kerascnn.advise`).
"""

from __future__ import annotations

__all__ = ["data_advice", "FEW_PER_CLASS", "LARGE_MODEL_PARAMETERS", "NO_VALIDATION"]

# Images per class below which training from scratch is advised against for large models.
FEW_PER_CLASS = 100
# Trainable parameters from which a model counts as large for so little data: ResNet-20 has
# 269,722; LeNet-5 61,706 and the two-convolution tutorial CNN of the same measurements fewer.
LARGE_MODEL_PARAMETERS = 100_000
# For a run without validation data (`validation_split=0`, the default below 100 images per class).
NO_VALIDATION = ("No images are held out for validation: best.keras and the run report follow "
                 "the training data; score the model on other images with "
                 "kerascnn.evaluate(run_dir, data) (kerascnn evaluate RUN --data FOLDER).")


def data_advice(model_name: str, train_examples: int, num_classes: int,
                trainable_parameters: int) -> str | None:
    """A one-paragraph warning when `train_examples` is too few for a model of this size, naming
    what would serve better; None when the data suffices."""
    per_class = train_examples / max(1, num_classes)
    if per_class >= FEW_PER_CLASS or trainable_parameters < LARGE_MODEL_PARAMETERS:
        return None
    return (
        f"{train_examples} training images ({per_class:.0f} per class) are few for "
        f"{model_name} ({trainable_parameters / 1e6:.2f}M trainable parameters) trained from "
        f"scratch: below about {FEW_PER_CLASS} images per class a small network (lenet5, or a "
        "two-convolution CNN) may do better, and a pretrained network fine-tuned does "
        "better still: kerascnn.fine_tune(name, data, weights=...) with a model from "
        "kerascnn.list_models(pretrained=True), and kerascnn.advise(similar, "
        f"{max(1, int(per_class))}) for how many layers to train."
    )
