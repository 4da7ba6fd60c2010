"""Linear classifiers on the features of different stages: the notes' advice for a very different
dataset with very little data ("Try linear classifier from different stages")."""

from __future__ import annotations

import numpy as np

from kerascnn.transfer.freezing import backbone_groups, features

__all__ = ["linear_probe"]

# Feature maps up to this many values per image are flattened (keeping where things are);
# larger ones are averaged over space, as keras.applications' `pooling="avg"` does.
FLATTEN_LIMIT = 8192


def _arrays(dataset):
    images, labels = [], []
    for x, y in dataset:  # One pass: a reshuffling pipeline stays paired.
        images.append(np.asarray(x))
        labels.append(np.asarray(y))
    return np.concatenate(images), np.concatenate(labels)


def _vectors(maps: np.ndarray) -> np.ndarray:
    if maps.ndim == 4 and np.prod(maps.shape[1:]) > FLATTEN_LIMIT:
        return maps.mean(axis=(1, 2))
    return maps.reshape(len(maps), -1)


def linear_probe(model, data, groups=None, *, batch_size: int = 64, validation_split: float = 0.2,
                 normalization: str = "unit", seed: int = 0, max_iter: int = 2000) -> dict:
    """Fits a logistic-regression classifier on each group's features; returns held-out accuracy.

    Args:
        model: A trained model with kerascnn block-group names (its weights are not changed).
        data: Anything `kerascnn.data.load` takes, or a `DataBundle` with a validation split.
        groups: Group names to probe (default: every backbone group).
        batch_size, validation_split, normalization, seed: For `kerascnn.data.load`.
        max_iter: Iterations of scikit-learn's L-BFGS solver.

    Returns:
        `{group: accuracy on the validation split}`, groups in network order.

    Raises:
        ValueError: For an unknown group, or data without a validation split.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from kerascnn.transfer.finetune import prepare_data

    groups = list(groups) if groups is not None else backbone_groups(model)
    extractor = features(model, groups)
    bundle = prepare_data(data, model.inputs[0].shape[1:], batch_size=batch_size,
                          normalization=normalization, validation_split=validation_split,
                          seed=seed)
    if bundle.validation is None:
        raise ValueError("linear_probe needs held-out data: a validation split. "
                         f"Received: validation_split={validation_split!r}")
    x_train, y_train = _arrays(bundle.train)
    x_test, y_test = _arrays(bundle.validation)
    train_maps = extractor.predict(x_train, batch_size=batch_size, verbose=0)
    test_maps = extractor.predict(x_test, batch_size=batch_size, verbose=0)
    accuracy = {}
    # One BLAS thread: these fits are small, and OpenBLAS's spinning worker threads made them ~40x
    # slower on a busy 2-core machine (measured: 4 s instead of 0.1 s for 1,400 x 216 features).
    with threadpool_limits(limits=1):
        for group in groups:
            scaler = StandardScaler().fit(_vectors(train_maps[group]))
            classifier = LogisticRegression(max_iter=max_iter)
            classifier.fit(scaler.transform(_vectors(train_maps[group])), y_train)
            test = scaler.transform(_vectors(test_maps[group]))
            accuracy[group] = float(classifier.score(test, y_test))
    return accuracy
