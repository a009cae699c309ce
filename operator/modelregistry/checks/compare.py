"""The `compare` check: score this version and another one on a held-out data set (the A/B).

Reads the data set (a CSV file with a header row, or a Parquet file), takes
its target column as the true values and its feature columns, in order, as
the models' input, loads each model as loadAndPredict does, and scores both
with one of scikit-learn's metrics. The report's value is this version's
score and its threshold the other version's; the check passes once both were
scored (or this one, when there is no other): what the scores must be is the
Model's policy's to say.

Loading a pickle runs the artifact's code: this check belongs in the
locked-down validation Pod. The other version is loaded and scored first, so
this version's code runs only once that score is known.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelregistry.api.modelversion import LOWER_IS_BETTER
from modelregistry.checks.common import ArtifactProblem, UsageError, import_optional
from modelregistry.checks.predict import LoadedModel, call_model, load_model, onnx_feed
from modelregistry.checks.report import Report
from modelregistry.checks.signature import ModelSignature

CHECK = "compare"
# Metrics scored from class probabilities rather than from predicted labels.
PROBABILITY_METRICS = frozenset({"auc", "log_loss"})
LABEL_METRICS = frozenset({"accuracy", "balanced_accuracy", "f1", "precision", "recall"})
VALUE_METRICS = frozenset({"rmse", "mae", "r2"})
METRICS = tuple(sorted(PROBABILITY_METRICS | LABEL_METRICS | VALUE_METRICS))
DECIMALS = 6


@dataclass(frozen=True)
class Dataset:
    """The held-out data set: where it is, how to read it, and which columns are which."""

    path: Path
    format: str = "csv"  # or parquet
    target: str = ""
    features: tuple[str, ...] = ()  # empty: every column but the target
    digest: str | None = None  # as pinned for it, for the report


@dataclass(frozen=True)
class Against:
    """The other version: its bytes, and what the report calls it."""

    path: Path
    format: str
    name: str | None = None
    version: int | None = None
    digest: str | None = None

    @property
    def label(self) -> str:
        if self.name is None:
            return f"the other version ({self.path.name})"
        return self.name if self.version is None else f"{self.name} (version {self.version})"


@dataclass(frozen=True)
class Table:
    """The data set read: the models' input, the true values, and its number of rows."""

    features: Any  # a 2-D numpy array: float64 when every feature is numeric, else object
    names: tuple[str, ...]
    target: Any
    rows: int


def check_compare(
    artifact: Path,
    fmt: str,
    dataset: Dataset,
    metric: str,
    *,
    against: Against | None = None,
    declared: ModelSignature | None = None,
) -> Report:
    """Run compare on local files. UsageError for bad input (the data set included)."""
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    np = import_optional("numpy", "numpy", CHECK)
    import_optional("sklearn", "scikit-learn", CHECK)
    table = read_dataset(dataset, np)
    details: dict[str, Any] = {
        "metric": metric,
        "higherIsBetter": metric not in LOWER_IS_BETTER,
        "rows": table.rows,
    }
    if dataset.digest is not None:
        details["datasetDigest"] = dataset.digest
    other: float | None = None
    try:
        if against is not None:
            details.update(
                holder=against.name, holderVersion=against.version, holderDigest=against.digest
            )
            other, details["holderLoader"] = _scored(
                against.path, against.format, None, table, metric, np, against.label
            )
        own, details["loader"] = _scored(artifact, fmt, declared, table, metric, np, "")
    except ArtifactProblem as problem:
        return Report(CHECK, False, None, other, str(problem), _present(details))
    summary = f"{metric} on {table.rows} rows of {dataset.path.name}: this version {own}"
    if against is None:
        message = f"{summary}; no other version to compare with"
    else:
        message = f"{summary}, {against.label} {other} ({_verdict(own, other, metric)})"
    return Report(CHECK, True, own, other, message, _present(details))


def _present(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if v is not None}


def _verdict(own: float, other: float | None, metric: str) -> str:
    if other is None or own == other:
        return "equal"
    better = own < other if metric in LOWER_IS_BETTER else own > other
    return (
        f"this version is {'better' if better else 'worse'} by {round(abs(own - other), DECIMALS)}"
    )


# ---------------------------------------------------------------- the data set


def read_dataset(dataset: Dataset, np: Any) -> Table:
    """The data set's features and target; UsageError naming what is wrong with it."""
    if not dataset.path.is_file():
        raise UsageError(f"--dataset {dataset.path}: no such file")
    if dataset.format == "parquet":
        columns = _read_parquet(dataset.path)
    elif dataset.format == "csv":
        columns = _read_csv(dataset.path)
    else:
        raise UsageError(f"unknown data set format {dataset.format!r}: use csv or parquet")
    name = dataset.path.name
    if dataset.target not in columns:
        raise UsageError(
            f"the data set {name} has no column {dataset.target!r} (the target); its columns "
            f"are {', '.join(list(columns)[:20])}"
        )
    features = dataset.features or tuple(c for c in columns if c != dataset.target)
    missing = [f for f in features if f not in columns]
    if missing:
        raise UsageError(f"the data set {name} has no column {missing[0]!r} (a feature)")
    if not features:
        raise UsageError(f"the data set {name} has no column besides the target")
    rows = len(columns[dataset.target])
    if rows == 0:
        raise UsageError(f"the data set {name} has no rows")
    arrays = [_array(columns[f], np) for f in features]
    numeric = all(a.dtype.kind in "iufb" for a in arrays)
    if numeric:
        table = np.column_stack([a.astype("float64") for a in arrays])
    else:
        table = np.empty((rows, len(arrays)), dtype=object)
        for index, array in enumerate(arrays):
            table[:, index] = array
    return Table(table, tuple(features), _array(columns[dataset.target], np), rows)


def _read_csv(path: Path) -> dict[str, list[Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream)
            header = next(reader, None)
            if not header:
                raise UsageError(f"the data set {path.name} is empty: it needs a header row")
            columns: dict[str, list[Any]] = {name: [] for name in header}
            if len(columns) != len(header):
                raise UsageError(f"the data set {path.name} names a column twice in its header")
            for number, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise UsageError(
                        f"line {number} of the data set {path.name} has {len(row)} fields, "
                        f"the header {len(header)}"
                    )
                for name, value in zip(header, row, strict=True):
                    columns[name].append(value)
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"the data set {path.name} is not a CSV file ({error})") from None
    return columns


def _read_parquet(path: Path) -> dict[str, list[Any]]:
    parquet = import_optional("pyarrow.parquet", "pyarrow", CHECK)
    try:
        read: dict[str, list[Any]] = parquet.read_table(path).to_pydict()
    except Exception as error:  # pyarrow raises its own exception types
        raise UsageError(f"the data set {path.name} is not a Parquet file ({error})") from None
    return read


def _array(values: list[Any], np: Any) -> Any:
    """A column as numbers where every value is one (an empty CSV field is NaN), else text."""
    if values and all(isinstance(v, str) for v in values):
        for kind in (int, float):
            try:
                converted = [kind(v) if v.strip() else math.nan for v in values]
            except ValueError:
                continue
            if kind is int and any(isinstance(v, float) for v in converted):
                continue
            return np.asarray(converted)
        return np.asarray(values, dtype=object)
    return np.asarray(values)


# ---------------------------------------------------------------- scoring


def _scored(
    path: Path,
    fmt: str,
    declared: ModelSignature | None,
    table: Table,
    metric: str,
    np: Any,
    label: str,
) -> tuple[float, str]:
    """One model's score on the table, and how it was loaded; ArtifactProblem naming it."""
    try:
        model = load_model(path, fmt, declared)
        feed = _feed(model, table, np)
        return _score(model, feed, table, metric, np), model.loader
    except ArtifactProblem as problem:
        if not label:
            raise
        raise ArtifactProblem(f"{label}: {problem}") from None


def _feed(model: LoadedModel, table: Table, np: Any) -> Any:
    """The table as the model takes it: a 2-D array, or an ONNX graph's named inputs."""
    if model.loader != "onnxruntime":
        return table.features
    names = [str(c.name) for c in model.inputs]
    if len(names) == 1:
        return onnx_feed(model, {names[0]: table.features}, np)
    if all(n in table.names for n in names):
        position = {n: i for i, n in enumerate(table.names)}
        named = {n: table.features[:, position[n]].reshape(-1, 1) for n in names}
        return onnx_feed(model, named, np)
    raise ArtifactProblem(
        f"{model.file} takes the inputs {', '.join(names)}, which are not columns of the data "
        f"set: name them as the data set's features"
    )


def _score(model: LoadedModel, feed: Any, table: Table, metric: str, np: Any) -> float:
    source = f"the data set's {table.rows} rows"
    if metric in PROBABILITY_METRICS:
        scores, classes = _probabilities(model, feed, table.rows, metric, np)
        score = _probability_score(metric, table.target, scores, classes, model.file)
    else:
        predicted = np.asarray(call_model(model, feed, source)[0][1])
        if predicted.ndim == 2 and predicted.shape[1] == 1:
            predicted = predicted.ravel()
        if predicted.ndim != 1 or predicted.shape[0] != table.rows:
            raise ArtifactProblem(
                f"{model.file} predicted shape {list(predicted.shape)} for {source}: the "
                f"compare check needs one value per row"
            )
        score = _value_score(metric, table.target, predicted, model.file)
    if not math.isfinite(score):
        raise ArtifactProblem(f"{model.file} scored {score} on {metric}, which is not a number")
    return round(score, DECIMALS)


def _probabilities(
    model: LoadedModel, feed: Any, rows: int, metric: str, np: Any
) -> tuple[Any, list[Any]]:
    if model.probabilities is None:
        raise ArtifactProblem(
            f"{model.file} gives no class probabilities (no predict_proba), which {metric} "
            "needs: score it with accuracy or f1"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores, classes = model.probabilities(feed)
    except Exception as error:  # the model's own code raises anything
        raise ArtifactProblem(
            f"{model.file} failed to give probabilities ({type(error).__name__}: {error})"
        ) from None
    scores = np.asarray(scores, dtype="float64")
    if scores.ndim != 2 or scores.shape[0] != rows:
        raise ArtifactProblem(
            f"{model.file} gave probabilities of shape {list(scores.shape)} for {rows} rows: "
            "one row of class probabilities per data row is needed"
        )
    return scores, classes if classes is not None else list(range(scores.shape[1]))


def _sklearn_metric(name: str) -> Callable[..., Any]:
    metrics = import_optional("sklearn.metrics", "scikit-learn", CHECK)
    function: Callable[..., Any] = getattr(metrics, name)
    return function


def _value_score(metric: str, truth: Any, predicted: Any, name: str) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if metric == "rmse":
                error = _sklearn_metric("mean_squared_error")(truth, predicted)
                return math.sqrt(float(error))
            if metric == "mae":
                return float(_sklearn_metric("mean_absolute_error")(truth, predicted))
            if metric == "r2":
                return float(_sklearn_metric("r2_score")(truth, predicted))
            if metric in ("accuracy", "balanced_accuracy"):
                return float(_sklearn_metric(f"{metric}_score")(truth, predicted))
            classes = sorted(set(truth.tolist()))
            options: dict[str, Any] = {"average": "macro", "zero_division": 0}
            if len(classes) == 2:
                options = {"average": "binary", "pos_label": classes[-1], "zero_division": 0}
            return float(_sklearn_metric(f"{metric}_score")(truth, predicted, **options))
    except (TypeError, ValueError) as error:
        raise ArtifactProblem(
            f"the predictions of {name} cannot be scored against the target with {metric} "
            f"({error}): the target and the predictions must be values of the same kind"
        ) from None


def _probability_score(
    metric: str, truth: Any, scores: Any, classes: list[Any], name: str
) -> float:
    present = sorted(set(truth.tolist()))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if metric == "log_loss":
                return float(_sklearn_metric("log_loss")(truth, scores, labels=classes))
            if len(present) < 2:
                raise ArtifactProblem(
                    f"auc needs at least two classes in the target column; it holds only "
                    f"{present[0]!r}"
                )
            if len(classes) == 2:
                if present[-1] not in classes:
                    raise ArtifactProblem(
                        f"the classes of {name}, {classes}, do not include the target's "
                        f"{present[-1]!r}"
                    )
                positive = scores[:, classes.index(present[-1])]
                return float(_sklearn_metric("roc_auc_score")(truth, positive))
            return float(
                _sklearn_metric("roc_auc_score")(
                    truth, scores, multi_class="ovr", average="macro", labels=classes
                )
            )
    except (TypeError, ValueError) as error:
        raise ArtifactProblem(
            f"the probabilities of {name} cannot be scored against the target with {metric} "
            f"({error})"
        ) from None
