"""Training, evaluation and the run report."""

from kerascnn.training.report import report  # noqa: F401
