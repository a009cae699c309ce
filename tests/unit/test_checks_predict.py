"""loadAndPredict on models the tests build: scikit-learn (MLflow, pickle, joblib, skops), ONNX."""

from __future__ import annotations

import itertools
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from onnx import TensorProto

from modelregistry.checks.common import UsageError
from modelregistry.checks.predict import check_load_and_predict, percentile
from modelregistry.checks.report import Report
from modelregistry.checks.signature import Column, ModelSignature
from tests.unit.test_checks_artifacts import (
    ROWS,
    fitted_logistic_regression,
    onnx_linear_model,
    sklearn_mlflow_model,
)

MLFLOW_FILE = "model.pkl (flavors.sklearn.pickled_model)"
LOADER = "scikit-learn (LogisticRegression)"
GENERATED = "input generated from the signature"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """perf_counter steps 1 ms, 2 ms, ... 20 ms apart: p50 10 ms, p95 19 ms over 20 calls."""

    def ticks() -> Iterator[float]:
        now = 0.0
        for step in itertools.count(1):
            yield now
            now += step / 1000
            yield now

    times = ticks()
    monkeypatch.setattr("modelregistry.checks.predict.time.perf_counter", lambda: next(times))


def passed(file: str, loader: str, source: str, rows: int, shape: list[int], dtype: str) -> Report:
    return Report(
        "loadAndPredict",
        True,
        19.0,
        None,
        f"{file} loaded with {loader} and predicted {rows} rows from {source}; latency over 20 "
        f"calls: p50 10.0 ms, p95 19.0 ms",
        {
            "loader": loader,
            "file": file,
            "input": source,
            "rows": rows,
            "outputShape": shape,
            "outputDtype": dtype,
            "calls": 20,
            "p50Ms": 10.0,
            "p95Ms": 19.0,
        },
    )


def test_an_mlflow_sklearn_model_predicts_on_its_input_example(tmp_path: Path, clock: None) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, "input_example.json", 4, [4], "int64"
    )


def test_without_an_example_input_is_generated_from_the_signature(
    tmp_path: Path, clock: None
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", example=False)

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, GENERATED, 5, [5], "int64"
    )


def test_without_an_example_or_a_signature_the_feature_count_is_used(
    tmp_path: Path, clock: None
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", example=False, inputs=None)

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, GENERATED, 5, [5], "int64"
    )


def test_a_latency_over_the_threshold_fails(tmp_path: Path, clock: None) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    report = check_load_and_predict(model, "mlflow", max_p95_ms=18.5)

    assert report.passed is False
    assert (report.value, report.threshold) == (19.0, 18.5)
    assert report.message == (
        "p95 latency 19.0 ms over 20 calls exceeds the threshold of 18.5 ms "
        f"({MLFLOW_FILE} loaded with {LOADER} and predicted 4 rows from input_example.json; "
        "latency over 20 calls: p50 10.0 ms, p95 19.0 ms)"
    )


def test_a_latency_at_the_threshold_passes(tmp_path: Path, clock: None) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    report = check_load_and_predict(model, "mlflow", max_p95_ms=19.0)

    assert (report.passed, report.value, report.threshold) == (True, 19.0, 19.0)


def test_the_number_of_calls_sets_the_percentiles(tmp_path: Path, clock: None) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")

    report = check_load_and_predict(model, "mlflow", calls=4)

    assert (report.details["p50Ms"], report.details["p95Ms"], report.details["calls"]) == (
        2.0,
        4.0,
        4,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a pickle", "UnpicklingError: invalid load key, 'n'."),
        (b"\x80\x04\x95", "UnpicklingError: pickle data was truncated"),
        (b"\x80\x04N", "EOFError: Ran out of input"),
    ],
)
def test_a_corrupt_model_pkl_fails_naming_the_file(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "model.pkl").write_bytes(content)

    assert check_load_and_predict(model, "mlflow") == Report(
        "loadAndPredict",
        False,
        None,
        None,
        f"{MLFLOW_FILE} could not be loaded with pickle ({reason}): the file is corrupt, "
        "truncated, or needs other library versions than this image has",
    )


def test_an_example_the_model_cannot_take_fails(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "input_example.json").write_text(json.dumps({"columns": ["x"], "data": [[1.0]]}))

    report = check_load_and_predict(model, "mlflow", max_p95_ms=5)

    assert report == Report(
        "loadAndPredict",
        False,
        None,
        5,
        f"{MLFLOW_FILE} failed to predict on input_example.json (ValueError: X has 1 features, "
        "but LogisticRegression is expecting 3 features as input.)",
    )


def test_an_output_that_disagrees_with_the_signature_fails(tmp_path: Path) -> None:
    outputs = [{"type": "string", "name": "label"}]
    model = sklearn_mlflow_model(tmp_path / "model", outputs=outputs)

    assert check_load_and_predict(model, "mlflow").message == (
        "the prediction on input_example.json does not match the output signature: 'label' is "
        "declared string but the model returned int64"
    )


def test_a_plain_pickle_uses_the_models_feature_count(tmp_path: Path, clock: None) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted_logistic_regression()))

    assert check_load_and_predict(path, "pickle") == passed(
        "model.pkl", LOADER, GENERATED, 5, [5], "int64"
    )


def test_joblib_and_skops_files_load(tmp_path: Path) -> None:
    import joblib
    import skops.io

    model = fitted_logistic_regression()
    joblib.dump(model, tmp_path / "model.joblib")
    skops.io.dump(model, tmp_path / "model.skops")

    assert check_load_and_predict(tmp_path / "model.joblib", "joblib").passed is True
    assert check_load_and_predict(tmp_path / "model.skops", "other").passed is True


def test_a_declared_signature_drives_generated_input(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted_logistic_regression()))
    declared = ModelSignature(
        inputs=(Column("a", "float64"), Column("b", "float64")), outputs=(Column("y", "int64"),)
    )

    assert check_load_and_predict(path, "pickle", declared=declared).message == (
        "model.pkl failed to predict on input generated from the signature (ValueError: X has 2 "
        "features, but LogisticRegression is expecting 3 features as input.)"
    )


def test_an_object_without_predict_fails(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))

    assert check_load_and_predict(path, "pickle").message == (
        "model.pkl holds a dict, which has no predict method"
    )


def test_an_onnx_model_predicts_on_generated_input(tmp_path: Path, clock: None) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")

    assert check_load_and_predict(path, "onnx") == passed(
        "linear.onnx", "onnxruntime", GENERATED, 5, [5, 2], "float32"
    )


def test_an_onnx_output_that_disagrees_with_the_spec_fails(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    declared = ModelSignature(inputs=(), outputs=(Column("Y", "int64", (-1, 3)),))

    assert check_load_and_predict(path, "onnx", declared=declared).message == (
        "the prediction on input generated from the signature does not match the output "
        "signature: 'Y' is declared int64 but the model returned float32; 'Y' is declared with "
        "shape [-1, 3] but the model returned [5, 2]"
    )


def test_an_onnx_model_in_mlflow_layout_uses_its_example(tmp_path: Path, clock: None) -> None:
    root = tmp_path / "model"
    root.mkdir()
    onnx_linear_model(root / "model.onnx")
    (root / "MLmodel").write_text(
        "flavors:\n  onnx:\n    data: model.onnx\n    onnx_version: 1.16.0\n"
        "saved_input_example_info:\n  artifact_path: input_example.json\n  type: ndarray\n"
    )
    (root / "requirements.txt").write_text("onnx\n")
    (root / "input_example.json").write_text(json.dumps({"inputs": {"X": [[1, 2, 3]]}}))

    assert check_load_and_predict(root, "mlflow") == passed(
        "model.onnx (flavors.onnx.data)", "onnxruntime", "input_example.json", 1, [1, 2], "float32"
    )


def test_a_broken_onnx_file_fails(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"garbage")

    assert check_load_and_predict(path, "onnx").message == (
        "broken.onnx could not be loaded with onnxruntime ([ONNXRuntimeError] : 7 : "
        f"INVALID_PROTOBUF : Load model from {path} failed:Protobuf parsing failed.)"
    )


def test_an_onnx_model_whose_declared_output_is_wrong_in_the_graph(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx", output_dtype=TensorProto.INT64)

    report = check_load_and_predict(path, "onnx")

    assert report.passed is False
    assert report.message.startswith("linear.onnx could not be loaded with onnxruntime (")


def test_mlflow_models_of_other_flavors_are_not_loaded(tmp_path: Path) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "MLmodel").write_text("flavors:\n  pytorch:\n    model_data: data\n")

    assert check_load_and_predict(root, "mlflow").message == (
        "MLmodel has no flavor this check can load (sklearn or onnx); it has pytorch: use a "
        "custom check for this model"
    )


def test_other_formats_are_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        check_load_and_predict(tmp_path, "safetensors")
    assert str(raised.value) == (
        "loadAndPredict loads scikit-learn (MLflow sklearn flavor, pickle, joblib, skops) and "
        "ONNX models, not format safetensors"
    )


def test_calls_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--calls must be at least 1, not 0$"):
        check_load_and_predict(tmp_path, "onnx", calls=0)


@pytest.mark.parametrize(
    ("values", "p50", "p95"),
    [
        ([1.0], 1.0, 1.0),
        ([1.0, 2.0], 1.0, 2.0),
        ([float(i) for i in range(1, 21)], 10.0, 19.0),
        ([float(i) for i in range(1, 101)], 50.0, 95.0),
        ([float(i) for i in range(1, 102)], 51.0, 96.0),
    ],
)
def test_nearest_rank_percentiles(values: list[float], p50: float, p95: float) -> None:
    assert (percentile(values, 50), percentile(values, 95)) == (p50, p95)


@pytest.mark.parametrize(
    "example",
    [
        {"dataframe_split": {"columns": ["x", "y", "z"], "data": ROWS}},
        {"inputs": ROWS},
        {"instances": ROWS},
        [dict(zip(["x", "y", "z"], row, strict=True)) for row in ROWS],
        ROWS,
    ],
)
def test_input_example_layouts(tmp_path: Path, clock: None, example: object) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "input_example.json").write_text(json.dumps(example))

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, "input_example.json", 4, [4], "int64"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"inputs": {"x": [1.0]}}',
            "the input example input_example.json holds named tensors, which a scikit-learn "
            "model cannot take: log a dataframe or array example",
        ),
        (
            "{oops",
            "the input example input_example.json is not JSON (Expecting property name enclosed "
            "in double quotes: line 1 column 2 (char 1))",
        ),
    ],
)
def test_unusable_input_examples_fail(tmp_path: Path, content: str, message: str) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "input_example.json").write_text(content)

    assert check_load_and_predict(model, "mlflow").message == message


def test_a_ragged_input_example_fails(tmp_path: Path) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    (model / "input_example.json").write_text("[[1.0, 2.0, 3.0], [1.0]]")

    message = check_load_and_predict(model, "mlflow").message

    assert message.startswith("the input example input_example.json is not a table or array (")


def onnx_in_mlflow_layout(root: Path, example: object) -> Path:
    root.mkdir()
    onnx_linear_model(root / "model.onnx")
    (root / "MLmodel").write_text(
        "flavors:\n  onnx:\n    data: model.onnx\n"
        "saved_input_example_info:\n  artifact_path: input_example.json\n  type: ndarray\n"
    )
    (root / "input_example.json").write_text(json.dumps(example))
    return root


@pytest.mark.parametrize(
    ("example", "rows"),
    [
        ([[1, 2, 3], [4, 5, 6]], 2),
        ({"columns": ["a", "b", "c"], "data": [[1, 2, 3]]}, 1),
        ([{"a": 1, "b": 2, "c": 3}], 1),
    ],
)
def test_onnx_examples_feed_the_first_input(
    tmp_path: Path, clock: None, example: object, rows: int
) -> None:
    root = onnx_in_mlflow_layout(tmp_path / "model", example)

    assert check_load_and_predict(root, "mlflow") == passed(
        "model.onnx (flavors.onnx.data)",
        "onnxruntime",
        "input_example.json",
        rows,
        [rows, 2],
        "float32",
    )


def test_an_onnx_example_without_the_graphs_input_fails(tmp_path: Path) -> None:
    root = onnx_in_mlflow_layout(tmp_path / "model", {"inputs": {"Z": [[1, 2, 3]]}})

    assert check_load_and_predict(root, "mlflow").message == (
        "the input example has no value for the ONNX input 'X'"
    )


def test_a_tensor_signature_generates_a_batch(tmp_path: Path, clock: None) -> None:
    tensor = [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]
    model = sklearn_mlflow_model(tmp_path / "model", inputs=tensor, example=False)

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, GENERATED, 5, [5], "int64"
    )


def test_integer_and_boolean_columns_are_generated(tmp_path: Path, clock: None) -> None:
    columns = [
        {"type": "long", "name": "a"},
        {"type": "integer", "name": "b"},
        {"type": "boolean", "name": "c"},
    ]
    model = sklearn_mlflow_model(tmp_path / "model", inputs=columns, example=False)

    assert check_load_and_predict(model, "mlflow") == passed(
        MLFLOW_FILE, LOADER, GENERATED, 5, [5], "int64"
    )


def test_string_columns_are_generated_and_the_model_refuses_them(tmp_path: Path) -> None:
    columns = [{"type": "string", "name": c} for c in ("a", "b", "c")]
    model = sklearn_mlflow_model(tmp_path / "model", inputs=columns, example=False)

    assert check_load_and_predict(model, "mlflow").message == (
        f"{MLFLOW_FILE} failed to predict on input generated from the signature (ValueError: "
        "could not convert string to float: 'a')"
    )


def test_a_type_that_cannot_be_generated_asks_for_an_example(tmp_path: Path) -> None:
    columns = [{"type": "datetime", "name": "when"}]
    model = sklearn_mlflow_model(tmp_path / "model", inputs=columns, example=False)

    assert check_load_and_predict(model, "mlflow").message == (
        "cannot generate input for 'when' of type datetime: log the model with an input example"
    )


def test_several_declared_output_columns_need_a_2d_prediction(tmp_path: Path) -> None:
    outputs = [{"type": "long", "name": "a"}, {"type": "long", "name": "b"}]
    model = sklearn_mlflow_model(tmp_path / "model", outputs=outputs)

    assert check_load_and_predict(model, "mlflow").message == (
        "the prediction on input_example.json does not match the output signature: the "
        "signature declares 2 output columns but the prediction has shape [4]"
    )


def test_declared_output_columns_must_match_the_prediction_columns(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    declared = ModelSignature(
        inputs=(), outputs=(Column("A", "float32"), Column("B", "float32"), Column("C", "float"))
    )

    assert check_load_and_predict(path, "onnx", declared=declared).message == (
        "the prediction on input generated from the signature does not match the output "
        "signature: the signature declares 3 output columns but the prediction has shape [5, 2]"
    )


def test_unnamed_declared_outputs_match_by_position(tmp_path: Path) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    declared = ModelSignature(inputs=(), outputs=(Column(None, "float64", (-1, 2)),))

    assert check_load_and_predict(path, "onnx", declared=declared).passed is True


class FailsAfterTheFirstCall:
    """A model whose later predictions fail (loaded from this importable test module)."""

    n_features_in_ = 3

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, rows: object) -> list[int]:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("out of memory")
        return [0] * GENERATED_ROWS_IN_TESTS


GENERATED_ROWS_IN_TESTS = 5


def test_a_failure_during_the_timed_calls_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(FailsAfterTheFirstCall()))

    assert check_load_and_predict(path, "pickle", calls=7).message == (
        "model.pkl failed on timed call 1 of 7 (RuntimeError: out of memory)"
    )


class ReturnsOneRow:
    n_features_in_ = 2

    def predict(self, rows: object) -> list[int]:
        return [0]


def test_a_prediction_without_one_row_per_input_row_fails(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(ReturnsOneRow()))

    assert check_load_and_predict(path, "pickle").message == (
        "the prediction on input generated from the signature does not match the output "
        "signature: output 'predict' has shape [1], not one row per input row (5)"
    )
