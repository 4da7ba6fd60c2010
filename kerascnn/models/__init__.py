"""One builder per family. Importing this package registers every model name."""

from kerascnn.models import lenet, perceptron  # noqa: F401
