"""`modelregistry validate`: exit codes, the report on stdout and in --report, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import modelregistry
from modelregistry import cli
from modelregistry.checks import cli as checks_cli
from modelregistry.checks.report import Report, decode
from tests.unit.test_checks_artifacts import onnx_linear_model, sklearn_mlflow_model

ROOT = Path(__file__).resolve().parents[2]
# Where the imported package lives (the source tree, or a copy of it): subprocesses run there.
PACKAGE_PARENT = Path(modelregistry.__file__).resolve().parents[1]
INSTALL = "pip install 'modelregistry-operator[validate]'"


@pytest.fixture(autouse=True)
def no_termination_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run in a Pod too: never write its real termination-message file."""
    monkeypatch.setattr(checks_cli, "DEFAULT_REPORT_PATH", str(tmp_path / "absent"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Report, str]:
    code = cli.main(["validate", *argv])
    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    return code, decode(out), err


def test_a_passing_check_exits_0_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    target = tmp_path / "termination-log"

    code, report, err = run(["format", "--artifact", str(model), "--report", str(target)], capsys)

    assert (code, report.passed, report.value, err) == (0, True, "mlflow", "")
    assert decode(target.read_text()) == report


def test_a_failing_check_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = sklearn_mlflow_model(tmp_path / "model", inputs=None)
    target = tmp_path / "termination-log"

    code, report, err = run(
        ["format", "--artifact", str(model), "--require-signature", "--report", str(target)],
        capsys,
    )

    assert (code, report.passed, err) == (1, False, "")
    assert report.message == (
        "MLmodel has no signature (a model without a schema), and the Model's policy requires "
        "one: log the model with signature=infer_signature(X, y)"
    )
    assert target.read_text() == report.encode()


def test_the_spec_gives_format_and_signature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = sklearn_mlflow_model(tmp_path / "model")
    spec = tmp_path / "modelversion.yaml"
    spec.write_text(
        "apiVersion: modelregistry.io/v1alpha1\nkind: ModelVersion\nmetadata: {name: m-1}\n"
        "spec:\n  artifact: {uri: 's3://bucket/m/', format: mlflow}\n"
        "  signature:\n    inputs:\n    - {name: x, dtype: float64}\n"
        "    - {name: y, dtype: float64}\n    - {name: q, dtype: float64}\n"
    )

    code, report, _ = run(["format", "--artifact", str(model), "--spec", str(spec)], capsys)

    assert code == 1
    assert report.details["problems"] == [
        "spec.signature.inputs[2] declares 'q', which the MLmodel signature's inputs does not "
        "have (it has x, y, z): make the artifact and spec.signature agree",
        "the MLmodel signature's inputs has 'z', which spec.signature.inputs does not declare: "
        "make the artifact and spec.signature agree",
    ]


def test_load_and_predict_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")

    code, report, _ = run(["loadAndPredict", "--artifact", str(path), "--calls", "3"], capsys)

    assert (code, report.passed, report.details["calls"], report.details["rows"]) == (
        0,
        True,
        3,
        5,
    )
    assert report.value == report.details["p95Ms"]


@pytest.mark.parametrize(
    ("thresholds", "metrics", "code", "value", "threshold", "message"),
    [
        (["auc >= 0.9"], '{"auc": 0.9}', 0, 0.9, "auc >= 0.9", "auc = 0.9 meets 'auc >= 0.9'"),
        (
            ["auc >= 0.9", "latency_p95_ms <= 50"],
            '{"auc": 0.95, "latency_p95_ms": 50}',
            0,
            50,
            "latency_p95_ms <= 50",
            "auc = 0.95 meets 'auc >= 0.9'; latency_p95_ms = 50 meets 'latency_p95_ms <= 50'",
        ),
        (
            ["auc >= 0.9", "latency_p95_ms <= 50"],
            '{"auc": 0.85, "latency_p95_ms": 51}',
            1,
            0.85,
            "auc >= 0.9",
            "auc = 0.85 fails 'auc >= 0.9'; latency_p95_ms = 51 fails 'latency_p95_ms <= 50'",
        ),
        (
            ["auc >= 0.9", "f1 > 0.5"],
            '{"auc": 0.95}',
            1,
            None,
            "f1 > 0.5",
            "metric 'f1' is missing from spec.metrics, and the threshold 'f1 > 0.5' needs it: "
            "record it in the ModelVersion's spec.metrics",
        ),
    ],
)
def test_metrics(
    thresholds: list[str],
    metrics: str,
    code: int,
    value: float | None,
    threshold: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["metrics", "--metrics", metrics]
    for expression in thresholds:
        argv += ["--threshold", expression]

    exit_code, report, _ = run(argv, capsys)

    assert (exit_code, report.passed, report.value, report.threshold) == (
        code,
        code == 0,
        value,
        threshold,
    )
    assert report.message == message


def test_metrics_from_a_file_and_from_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "metrics.json").write_text('{"auc": 0.91}')
    (tmp_path / "spec.json").write_text('{"metrics": {"auc": 0.89}}')

    from_file = run(
        ["metrics", "--metrics", f"@{tmp_path / 'metrics.json'}", "--threshold", "auc >= 0.9"],
        capsys,
    )
    from_spec = run(
        ["metrics", "--spec", str(tmp_path / "spec.json"), "--threshold", "auc >= 0.9"], capsys
    )

    assert (from_file[0], from_file[1].value) == (0, 0.91)
    assert (from_spec[0], from_spec[1].value) == (1, 0.89)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["format"], "the format check needs --artifact PATH"),
        (
            ["format", "--artifact", "/no/such/model"],
            "--artifact /no/such/model: no such file or directory",
        ),
        (["metrics"], "the metrics check needs at least one --threshold, e.g. 'auc >= 0.9'"),
        (
            ["metrics", "--threshold", "auc >> 1"],
            "threshold 'auc >> 1' has more than one operator: write it as '<metric> <operator> "
            "<number>', the operator one of >=, >, <=, <, ==",
        ),
        (
            ["metrics", "--threshold", "auc > 1", "--metrics", "{auc"],
            "--metrics is not JSON (Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1))",
        ),
        (
            ["metrics", "--threshold", "auc > 1", "--metrics", "[1]"],
            "the metrics must be a JSON object of name to number",
        ),
        (
            ["metrics", "--threshold", "auc > 1", "--metrics", "@/no/such.json"],
            "--metrics @/no/such.json: No such file or directory",
        ),
        (
            ["metrics", "--threshold", "auc > 1", "--spec", "/no/spec.yaml"],
            "--spec /no/spec.yaml: No such file or directory",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_report(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, err = run(argv, capsys)

    assert code == 2
    assert report == Report(argv[0], False, message=message)
    assert err == f"modelregistry validate: {message}\n"


def test_an_unknown_format_cannot_be_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00")

    code, report, _ = run(["format", "--artifact", str(tmp_path / "weights.bin")], capsys)

    assert (code, report.message) == (
        2,
        f"cannot tell the format of {tmp_path / 'weights.bin'}: pass --format or set "
        "spec.artifact.format",
    )


def test_an_invalid_spec_signature_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx_linear_model(tmp_path / "linear.onnx")
    (tmp_path / "spec.yaml").write_text("signature:\n  inputs:\n  - {name: X}\n")

    code, report, _ = run(
        [
            "format",
            "--artifact",
            str(tmp_path / "linear.onnx"),
            "--spec",
            str(tmp_path / "spec.yaml"),
        ],
        capsys,
    )

    assert (code, report.message) == (
        2,
        "spec.signature is not valid: inputs.0.dtype: Field required",
    )


def test_a_missing_library_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = onnx_linear_model(tmp_path / "linear.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)

    code, report, _ = run(["loadAndPredict", "--artifact", str(path)], capsys)

    assert (code, report.passed) == (2, False)
    assert report.message == (
        "the loadAndPredict check needs the Python package onnxruntime, which cannot be imported "
        f"(import of onnxruntime halted; None in sys.modules): {INSTALL}"
    )


def test_an_unwritable_report_path_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "termination-log"

    code = cli.main(
        [
            "validate",
            "metrics",
            "--threshold",
            "a > 1",
            "--metrics",
            '{"a": 2}',
            "--report",
            str(target),
        ]
    )

    out, err = capsys.readouterr()
    assert code == 2
    assert decode(out).passed is True
    assert err.startswith(f"modelregistry validate: cannot write the report to {target}: ")


def test_the_cli_and_the_pure_check_modules_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import modelregistry.cli, modelregistry.checks.cli, modelregistry.checks.report\n"
        "import modelregistry.checks.thresholds, modelregistry.checks.formats\n"
        "import modelregistry.checks.predict\n"
        "heavy = {'numpy', 'sklearn', 'onnx', 'onnxruntime', 'skops', 'joblib'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE_PARENT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "[]\n"


def test_report_json_on_stdout_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["validate", "metrics", "--threshold", "a > 1", "--metrics", '{"a": 0}'])

    out, _ = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == {
        "check": "metrics",
        "passed": False,
        "value": 0,
        "threshold": "a > 1",
        "message": "a = 0 fails 'a > 1'",
        "details": {"results": [{"threshold": "a > 1", "value": 0.0, "passed": False}]},
    }


@pytest.mark.parametrize(("metrics", "code"), [('{"auc": 0.95}', 0), ('{"auc": 0.5}', 1), ("{", 2)])
def test_the_process_exit_code_is_the_verdict(tmp_path: Path, metrics: str, code: int) -> None:
    target = tmp_path / "termination-log"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelregistry",
            "validate",
            "metrics",
            "--threshold",
            "auc >= 0.9",
            "--metrics",
            metrics,
            "--report",
            str(target),
        ],
        cwd=PACKAGE_PARENT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == code
    assert decode(result.stdout) == decode(target.read_text())
    assert decode(target.read_text()).passed is (code == 0)
