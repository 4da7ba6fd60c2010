"""Training, evaluation and the run report.

`train` fits a model with a recipe (`recipes.py`: the paper's, or "small_data" on small data)
under an automatically chosen `tf.distribute` strategy (`strategy.py`, with the multi-worker
fixes of `multiworker.py`), writing a resumable run directory (`rundir.py`, `callbacks.py`): a
frozen plan decided and checked first (`plan.py`, the data recorded by `dataspec.py`), then a
`Run` that executes it (`run.py`), the same one fine-tuning's phases run in; `evaluate` reports
top-1/top-5 accuracy with center or 10-crop inputs; `report` draws a run.
"""

from kerascnn.training.evaluation import evaluate  # noqa: F401
from kerascnn.training.fit import TrainResult, train  # noqa: F401
from kerascnn.training.recipes import RECIPES, Recipe, get_recipe, list_recipes  # noqa: F401
from kerascnn.training.report import report  # noqa: F401
