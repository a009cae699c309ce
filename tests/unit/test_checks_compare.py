"""The compare check: two models scored on one held-out data set (the A/B), the data set read
as CSV (or Parquet), each metric as scikit-learn computes it, the report and its exit codes."""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelregistry import cli
from modelregistry.checks import cli as checks_cli
from modelregistry.checks.common import UsageError
from modelregistry.checks.compare import (
    METRICS,
    Against,
    Dataset,
    check_compare,
    read_dataset,
)
from modelregistry.checks.report import Report, decode
from tests.unit.test_checks_artifacts import mlmodel_text, onnx_linear_model

COLUMNS = ("x", "y", "z")
DIGEST = "sha256:" + "d" * 64
HOLDER_DIGEST = "sha256:" + "e" * 64


# --- the artifacts: two classifiers of different quality, and held-out rows -------------------


def training_rows(seed: int = 7, rows: int = 40) -> tuple[Any, Any]:
    """What the models learn: the label is whether x + y > 0."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, 3))
    return features, (features[:, 0] + features[:, 1] > 0).astype(np.int64)


def good_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(*training_rows())


def poor_model() -> Any:
    """Always the most frequent label: no better than chance."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent").fit(*training_rows())


def mlflow_model_of(root: Path, model: Any) -> Path:
    """An MLflow sklearn model directory, as `sklearn_mlflow_model` writes one, holding `model`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLmodel").write_text(mlmodel_text(example=False))
    (root / "model.pkl").write_bytes(pickle.dumps(model))
    (root / "conda.yaml").write_text("name: mlflow-env\ndependencies:\n- python=3.11.7\n")
    (root / "requirements.txt").write_text("scikit-learn==1.5.0\n")
    return root


def holdout_csv(path: Path, rows: int = 200, seed: int = 11) -> Path:
    """Held-out rows of the same task, with a header: x,y,z,label."""
    features, labels = training_rows(seed, rows)
    lines = ["x,y,z,label"]
    lines += [
        ",".join(f"{v:.6f}" for v in row) + f",{label}"
        for row, label in zip(features, labels, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def holdout_of(path: Path) -> tuple[Any, Any]:
    """The held-out rows as the check reads them (6 decimals)."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :3], table[:, 3].astype(np.int64)


def expected(metric: str, model: Any, path: Path) -> float:
    """The score as scikit-learn computes it directly."""
    from sklearn import metrics

    features, labels = holdout_of(path)
    if metric == "auc":
        return round(float(metrics.roc_auc_score(labels, model.predict_proba(features)[:, 1])), 6)
    if metric == "log_loss":
        return round(float(metrics.log_loss(labels, model.predict_proba(features))), 6)
    predicted = model.predict(features)
    if metric == "rmse":
        return round(math.sqrt(float(metrics.mean_squared_error(labels, predicted))), 6)
    if metric == "mae":
        return round(float(metrics.mean_absolute_error(labels, predicted)), 6)
    if metric == "r2":
        return round(float(metrics.r2_score(labels, predicted)), 6)
    scorer = getattr(metrics, f"{metric}_score")
    if metric in ("f1", "precision", "recall"):
        return round(float(scorer(labels, predicted, zero_division=0)), 6)
    return round(float(scorer(labels, predicted)), 6)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "good": mlflow_model_of(tmp_path / "good", good_model()),
        "poor": mlflow_model_of(tmp_path / "poor", poor_model()),
        "data": holdout_csv(tmp_path / "holdout.csv"),
    }


def against(path: Path) -> Against:
    return Against(path, "mlflow", "churn-1", 1, HOLDER_DIGEST)


def dataset(path: Path, **fields: Any) -> Dataset:
    return Dataset(**{"path": path, "target": "label", "digest": DIGEST, **fields})


# --- the A/B ----------------------------------------------------------------------------------


def test_the_better_candidate_and_the_holder_are_both_scored(files: dict[str, Path]) -> None:
    own, other = expected("auc", good_model(), files["data"]), 0.5

    report = check_compare(
        files["good"], "mlflow", dataset(files["data"]), "auc", against=against(files["poor"])
    )

    assert report == Report(
        "compare",
        True,
        own,
        other,
        f"auc on 200 rows of holdout.csv: this version {own}, churn-1 (version 1) 0.5 (this "
        f"version is better by {round(own - other, 6)})",
        {
            "metric": "auc",
            "higherIsBetter": True,
            "rows": 200,
            "datasetDigest": DIGEST,
            "holder": "churn-1",
            "holderVersion": 1,
            "holderDigest": HOLDER_DIGEST,
            "holderLoader": "scikit-learn (DummyClassifier)",
            "loader": "scikit-learn (LogisticRegression)",
        },
    )
    assert own > 0.9


def test_the_worse_candidate_reports_the_lower_value(files: dict[str, Path]) -> None:
    report = check_compare(
        files["poor"], "mlflow", dataset(files["data"]), "accuracy", against=against(files["good"])
    )

    own, other = (
        expected("accuracy", poor_model(), files["data"]),
        expected("accuracy", good_model(), files["data"]),
    )
    assert (report.passed, report.value, report.threshold) == (True, own, other)
    assert isinstance(report.value, float) and isinstance(report.threshold, float)
    assert report.value < report.threshold
    assert report.message.endswith(f"(this version is worse by {round(other - own, 6)})")


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_is_scikit_learn_s(files: dict[str, Path], metric: str) -> None:
    report = check_compare(
        files["good"], "mlflow", dataset(files["data"]), metric, against=against(files["poor"])
    )

    assert (report.passed, report.value, report.threshold) == (
        True,
        expected(metric, good_model(), files["data"]),
        expected(metric, poor_model(), files["data"]),
    )
    assert report.details["higherIsBetter"] is (metric not in ("log_loss", "rmse", "mae"))


def test_the_metrics_are_the_api_s() -> None:
    from typing import get_args

    from modelregistry.api.modelversion import LOWER_IS_BETTER, CompareMetric

    assert tuple(sorted(get_args(CompareMetric))) == METRICS
    assert {"log_loss", "rmse", "mae"} == LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("candidate", "holder", "said"), [("poor", "good", "worse"), ("good", "poor", "better")]
)
def test_lower_is_better_for_errors(
    files: dict[str, Path], candidate: str, holder: str, said: str
) -> None:
    report = check_compare(
        files[candidate], "mlflow", dataset(files["data"]), "rmse", against=against(files[holder])
    )

    assert f"(this version is {said} by " in report.message
    assert (report.value > report.threshold) is (said == "worse")  # type: ignore[operator]


def test_equal_scores_say_so(files: dict[str, Path]) -> None:
    report = check_compare(
        files["good"], "mlflow", dataset(files["data"]), "f1", against=against(files["good"])
    )

    assert report.value == report.threshold
    assert report.message.endswith("(equal)")


def test_without_another_version_the_candidate_is_scored_alone(files: dict[str, Path]) -> None:
    report = check_compare(files["good"], "mlflow", dataset(files["data"], digest=None), "f1")

    own = expected("f1", good_model(), files["data"])
    assert report == Report(
        "compare",
        True,
        own,
        None,
        f"f1 on 200 rows of holdout.csv: this version {own}; no other version to compare with",
        {
            "metric": "f1",
            "higherIsBetter": True,
            "rows": 200,
            "loader": "scikit-learn (LogisticRegression)",
        },
    )


def test_an_unnamed_other_version_is_called_by_its_path(files: dict[str, Path]) -> None:
    other = Against(files["poor"], "mlflow")

    report = check_compare(files["good"], "mlflow", dataset(files["data"]), "f1", against=other)

    assert ", the other version (poor) 0.0 (" in report.message
    assert "holder" not in report.details
    assert Against(files["poor"], "mlflow", "churn-1").label == "churn-1"


# --- what fails the check, and what is bad input ----------------------------------------------


def test_a_probability_metric_needs_probabilities(files: dict[str, Path], tmp_path: Path) -> None:
    from sklearn.svm import LinearSVC

    svc = mlflow_model_of(tmp_path / "svc", LinearSVC().fit(*training_rows()))

    report = check_compare(svc, "mlflow", dataset(files["data"]), "auc")

    assert (report.passed, report.value, report.threshold) == (False, None, None)
    assert report.message == (
        "model.pkl (flavors.sklearn.pickled_model) gives no class probabilities (no "
        "predict_proba), which auc needs: score it with accuracy or f1"
    )
    assert "loader" not in report.details


def test_another_version_that_cannot_be_loaded_fails_the_check_naming_it(
    files: dict[str, Path],
) -> None:
    (files["poor"] / "model.pkl").write_bytes(b"not a pickle")

    report = check_compare(
        files["good"], "mlflow", dataset(files["data"]), "auc", against=against(files["poor"])
    )

    assert (report.passed, report.value, report.threshold) == (False, None, None)
    assert report.message.startswith(
        "churn-1 (version 1): model.pkl (flavors.sklearn.pickled_model) could not be loaded"
    )
    assert "loader" not in report.details


def test_a_candidate_that_cannot_be_loaded_keeps_the_other_score(files: dict[str, Path]) -> None:
    (files["good"] / "model.pkl").write_bytes(b"not a pickle")

    report = check_compare(
        files["good"], "mlflow", dataset(files["data"]), "auc", against=against(files["poor"])
    )

    assert (report.passed, report.value, report.threshold) == (False, None, 0.5)
    assert report.message.startswith("model.pkl (flavors.sklearn.pickled_model) could not be")


def test_labels_of_another_kind_cannot_be_scored(files: dict[str, Path], tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    features, _ = training_rows()
    words = mlflow_model_of(
        tmp_path / "words", DummyClassifier(strategy="most_frequent").fit(features, ["a"] * 40)
    )

    report = check_compare(words, "mlflow", dataset(files["data"]), "accuracy")

    assert report.passed is False
    assert report.message.startswith(
        "the predictions of model.pkl (flavors.sklearn.pickled_model) cannot be scored against "
        "the target with accuracy ("
    )
    assert report.message.endswith("the target and the predictions must be values of the same kind")


def test_an_onnx_regressor_is_fed_the_table(tmp_path: Path, files: dict[str, Path]) -> None:
    import onnx
    from onnx import TensorProto, helper

    weights = helper.make_tensor("W", TensorProto.FLOAT, [3, 1], [0.5, 0.5, 0.0])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "half-sum",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 1])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "half.onnx"
    onnx.save(model, str(path))
    features, labels = holdout_of(files["data"])
    predicted = (
        features.astype(np.float32) @ np.asarray([[0.5], [0.5], [0.0]], np.float32)
    ).ravel()
    mae = round(float(np.mean(np.abs(labels - predicted.astype(np.float64)))), 6)

    report = check_compare(path, "onnx", dataset(files["data"]), "mae")

    assert (report.passed, report.details["loader"]) == (True, "onnxruntime")
    assert report.value == pytest.approx(mae, abs=1e-6)


def onnx_classifier(path: Path, *, zipmap: bool) -> Path:
    """Whether x + y > 0, as a converted classifier gives it: the label, then probabilities
    (ZipMap's {class: probability} per row, or a [batch, 2] tensor)."""
    import onnx
    from onnx import TensorProto, helper

    weights = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [-1, 1, -1, 1, 0, 0])
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])]
    if zipmap:
        nodes.append(
            helper.make_node(
                "ZipMap",
                ["probabilities"],
                ["output_probability"],
                domain="ai.onnx.ml",
                classlabels_int64s=[0, 1],
            )
        )
        scalar = helper.make_tensor_type_proto(TensorProto.FLOAT, [])
        rows = helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.INT64, scalar)
        )
        outputs.append(helper.make_value_info("output_probability", rows))
    else:
        outputs.append(
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2])
        )
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])]
    graph = helper.make_graph(nodes, "clf", inputs, outputs, initializer=[weights])
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "tensor"])
def test_an_onnx_classifier_s_probabilities_are_scored(
    tmp_path: Path, files: dict[str, Path], zipmap: bool
) -> None:
    path = onnx_classifier(tmp_path / "clf.onnx", zipmap=zipmap)

    report = check_compare(
        path, "onnx", dataset(files["data"]), "auc", against=against(files["poor"])
    )

    # The graph computes the label's very rule: every row is ranked right.
    assert (report.passed, report.value, report.threshold) == (True, 1.0, 0.5)
    assert report.details["loader"] == "onnxruntime"
    accuracy = check_compare(path, "onnx", dataset(files["data"]), "accuracy")
    assert accuracy.value == 1.0


def test_a_model_with_two_values_per_row_fails(tmp_path: Path, files: dict[str, Path]) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")

    report = check_compare(path, "onnx", dataset(files["data"]), "rmse")

    assert (report.passed, report.value) == (False, None)
    assert report.message == (
        "linear.onnx predicted shape [200, 2] for the data set's 200 rows: the compare check "
        "needs one value per row"
    )


def test_an_unknown_metric_is_a_usage_error(files: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match=r"^unknown metric 'gini': use one of accuracy, auc, "):
        check_compare(files["good"], "mlflow", dataset(files["data"]), "gini")


# --- reading the data set ---------------------------------------------------------------------


def table_of(tmp_path: Path, text: str, **fields: Any) -> Any:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return read_dataset(dataset(path, **fields), np)


def test_numbers_text_and_empty_fields(tmp_path: Path) -> None:
    table = table_of(tmp_path, "a,b,label\n1,2.5,x\n3,,y\n")

    assert table.names == ("a", "b")
    assert table.rows == 2
    assert table.features.dtype == np.float64
    assert table.features[0].tolist() == [1.0, 2.5]
    assert table.features[1, 0] == 3.0 and math.isnan(table.features[1, 1])
    assert table.target.tolist() == ["x", "y"]


def test_whole_numbers_stay_whole_and_text_features_make_an_object_table(tmp_path: Path) -> None:
    table = table_of(tmp_path, "\ufeffcolour,n,label\nred,1,0\nblue,2,1\n\n")

    assert table.features.dtype == object
    assert table.features.tolist() == [["red", 1], ["blue", 2]]
    assert table.target.dtype.kind == "i"
    assert table.target.tolist() == [0, 1]


def test_the_features_named_are_taken_in_their_order(tmp_path: Path) -> None:
    table = table_of(tmp_path, "a,b,c,label\n1,2,3,0\n", features=("c", "a"))

    assert (table.names, table.features.tolist()) == (("c", "a"), [[3.0, 1.0]])


@pytest.mark.parametrize(
    ("text", "fields", "message"),
    [
        ("", {}, "the data set data.csv is empty: it needs a header row"),
        ("a,label\n", {}, "the data set data.csv has no rows"),
        ("a,a,label\n1,2,3\n", {}, "the data set data.csv names a column twice in its header"),
        ("a,label\n1\n", {}, "line 2 of the data set data.csv has 1 fields, the header 2"),
        (
            "a,b\n1,2\n",
            {},
            "the data set data.csv has no column 'label' (the target); its columns are a, b",
        ),
        (
            "a,label\n1,2\n",
            {"features": ("a", "q")},
            "the data set data.csv has no column 'q' (a feature)",
        ),
        ("label\n1\n", {}, "the data set data.csv has no column besides the target"),
        (
            "a,label\n1,2\n",
            {"format": "xlsx"},
            "unknown data set format 'xlsx': use csv or parquet",
        ),
    ],
)
def test_a_data_set_that_cannot_be_read_is_bad_input(
    tmp_path: Path, text: str, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as refused:
        table_of(tmp_path, text, **fields)

    assert str(refused.value) == message


def test_a_data_set_that_is_not_text_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,label\n\xff\xfe,1\n")

    with pytest.raises(UsageError, match=r"^the data set data.csv is not a CSV file \("):
        read_dataset(dataset(path), np)


def test_a_missing_data_set_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--dataset .*absent.csv: no such file$"):
        read_dataset(dataset(tmp_path / "absent.csv"), np)


def test_parquet_needs_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    with pytest.raises(UsageError) as refused:
        read_dataset(dataset(path, format="parquet"), np)

    assert str(refused.value).startswith(
        "the compare check needs the Python package pyarrow, which cannot be imported"
    )


def test_a_model_s_own_error_names_it(files: dict[str, Path], tmp_path: Path) -> None:
    two = dataset(files["data"], features=("x", "y"))  # the model takes three

    report = check_compare(files["good"], "mlflow", two, "f1")

    assert report.passed is False
    assert report.message.startswith(
        "model.pkl (flavors.sklearn.pickled_model) failed to predict on the data set's 200 rows "
        "(ValueError: "
    )


# --- modelregistry validate compare -----------------------------------------------------------


@pytest.fixture(autouse=True)
def no_termination_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks_cli, "DEFAULT_REPORT_PATH", str(tmp_path / "absent"))


def validate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Report, str]:
    code = cli.main(["validate", "compare", *argv])
    out, err = capsys.readouterr()
    return code, decode(out), err


def test_the_command_as_the_pod_runs_it(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    termination = tmp_path / "termination-log"

    code, report, err = validate(
        [
            "--artifact", str(files["good"]),
            "--spec", str(spec_file(tmp_path)),
            "--dataset", str(files["data"]),
            "--dataset-format", "csv",
            "--dataset-digest", DIGEST,
            "--target", "label",
            "--feature", "x", "--feature", "y", "--feature", "z",
            "--metric", "auc",
            "--against", str(files["poor"]),
            "--against-name", "churn-1",
            "--against-version", "1",
            "--against-digest", HOLDER_DIGEST,
            "--against-format", "mlflow",
            "--report", str(termination),
        ],
        capsys,
    )  # fmt: skip

    assert (code, err) == (0, "")
    assert report == check_compare(
        files["good"], "mlflow", dataset(files["data"]), "auc", against=against(files["poor"])
    )
    assert decode(termination.read_text()) == report


def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text('{"artifact": {"uri": "s3://models/churn/2/", "format": "mlflow"}}')
    return path


def test_formats_are_guessed_and_a_worse_candidate_still_exits_0(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = validate(
        [
            "--artifact", str(files["poor"]),
            "--dataset", str(files["data"]),
            "--target", "label",
            "--metric", "accuracy",
            "--against", str(files["good"]),
        ],
        capsys,
    )  # fmt: skip

    assert (code, report.passed) == (0, True)
    assert isinstance(report.value, float) and isinstance(report.threshold, float)
    assert report.value < report.threshold


def test_a_failed_comparison_exits_1(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    (files["poor"] / "model.pkl").write_bytes(b"x")
    argv = ["--artifact", str(files["good"]), "--dataset", str(files["data"]), "--target", "label"]

    code, report, _ = validate([*argv, "--metric", "f1", "--against", str(files["poor"])], capsys)

    assert (code, report.passed) == (1, False)


NEEDS = "the compare check needs --dataset PATH, --target COLUMN and --metric"
WITH = ["--dataset", "DATA", "--target", "label", "--metric", "f1"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "label", "--metric", "f1"], NEEDS),
        (["--dataset", "DATA", "--metric", "f1"], NEEDS),
        (["--dataset", "DATA", "--target", "label"], NEEDS),
        ([*WITH, "--against", "NOWHERE"], "--against NOWHERE: no such file or directory"),
        ([*WITH, "--against", "DATA"], "cannot tell the format of DATA: pass --against-format"),
        (
            ["--dataset", "DATA", "--target", "nope", "--metric", "f1"],
            "the data set holdout.csv has no column 'nope' (the target); its columns are x, y, "
            "z, label",
        ),
    ],
)
def test_bad_input_exits_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    paths = {"DATA": str(files["data"]), "NOWHERE": str(files["data"].parent / "nowhere")}
    argv = [paths.get(a, a) for a in argv]
    message = message.replace("DATA", paths["DATA"]).replace("NOWHERE", paths["NOWHERE"])

    code, report, err = validate(["--artifact", str(files["good"]), *argv], capsys)

    assert (code, report.passed, report.message) == (2, False, message)
    assert err == f"modelregistry validate: {message}\n"


def test_a_parquet_suffix_reads_as_parquet(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = tmp_path / "holdout.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    code, report, _ = validate(
        [
            "--artifact",
            str(files["good"]),
            "--dataset",
            str(path),
            "--target",
            "y",
            "--metric",
            "f1",
        ],
        capsys,
    )

    assert code == 2
    assert "pyarrow" in report.message


def three_classes(path: Path) -> Path:
    features, _ = training_rows(5, 60)
    labels = np.digitize(features[:, 0], [-0.5, 0.5])  # 0, 1, 2
    rows = zip(features, labels, strict=True)
    lines = ["x,y,z,label", *(",".join(f"{v:.6f}" for v in r) + f",{c}" for r, c in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_auc_of_more_classes_is_one_versus_rest(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    data = three_classes(tmp_path / "three.csv")
    features, labels = holdout_of(data)
    fitted = LogisticRegression().fit(features, labels)
    model = mlflow_model_of(tmp_path / "three", fitted)

    report = check_compare(model, "mlflow", dataset(data), "auc")

    wanted = roc_auc_score(labels, fitted.predict_proba(features), multi_class="ovr")
    assert report.value == round(float(wanted), 6)
    macro = check_compare(model, "mlflow", dataset(data), "f1")
    assert macro.passed and macro.value is not None


def test_auc_needs_both_classes_in_the_target(files: dict[str, Path], tmp_path: Path) -> None:
    text = "x,y,z,label\n" + "".join(f"{i},0,0,1\n" for i in range(5))
    (tmp_path / "ones.csv").write_text(text)

    report = check_compare(files["good"], "mlflow", dataset(tmp_path / "ones.csv"), "auc")

    assert (report.passed, report.message) == (
        False,
        "auc needs at least two classes in the target column; it holds only 1",
    )


def test_auc_of_a_model_that_knows_other_classes_fails(
    files: dict[str, Path], tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    features, labels = training_rows()
    other = mlflow_model_of(tmp_path / "other", LogisticRegression().fit(features, labels + 5))

    report = check_compare(other, "mlflow", dataset(files["data"]), "auc")

    assert (report.passed, report.message) == (
        False,
        "the classes of model.pkl (flavors.sklearn.pickled_model), [5, 6], do not include the "
        "target's 1",
    )
