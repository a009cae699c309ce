"""`modelregistry register|promote|status|list`, in-process, on an in-memory API server and S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelregistry import cli, client
from modelregistry.client import transfer
from modelregistry.digest import digest_local_path
from tests.unit.clientfakes import FakeSession, operator_says
from tests.unit.test_register_transfer import FakeS3


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSession]:
    fake = FakeSession()
    s3 = FakeS3()

    def connect(namespace: str | None = None, **_: Any) -> FakeSession:
        return fake

    monkeypatch.setattr(client.Session, "connect", connect)
    monkeypatch.setattr(transfer, "s3_client", lambda concurrency=10: s3)
    yield fake


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx bytes" * 100)
    return path


def register(*args: str) -> int:
    return cli.main(["register", *args])


def test_register_prints_the_name_and_says_what_went_up(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = register(str(model_file), "--model", "churn", "--to", "s3://mdl/c/", "--no-git")

    out, err = capsys.readouterr()
    assert code == 0
    name = out.strip()
    assert name.startswith("churn-")
    assert f"registered {name} (Model churn): s3://mdl/c/model.onnx" in err
    assert digest_local_path(model_file).digest in err
    spec = session.objects[("modelversions", name)]["spec"]
    assert spec["artifact"]["format"] == "onnx"


def test_register_json_output_and_metrics_and_params_from_flags(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = register(
        str(model_file),
        "--model=churn",
        "--to=s3://mdl/j/",
        "--no-git",
        "--name=churn-9",
        "--metric",
        "auc=0.91",
        "--param",
        "C=0.5",
        "-o",
        "json",
    )

    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["name"] == "churn-9"
    assert printed["digest"] == digest_local_path(model_file).digest
    spec = session.objects[("modelversions", "churn-9")]["spec"]
    assert (spec["metrics"], spec["hyperparameters"]) == ({"auc": 0.91}, {"C": "0.5"})


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--metric", "auc=high"], "the value of metric auc must be a number"),
        (["--metric", "auc"], "write --metric NAME=VALUE"),
        (["--git", ".", "--no-git"], "not allowed with argument --git"),
        (["--part-size", "1"], "below S3's 5 MiB part size floor"),
        (["--stage", "Prod"], "invalid choice: 'Prod'"),
        (["--timeout", "0"], "not a number of seconds above 0"),
    ],
)
def test_argument_errors_exit_2_naming_the_flag(
    session: FakeSession,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        register(str(model_file), "--model", "churn", *args)

    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_a_stalled_version_exits_1_with_its_reason_and_message(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session.operator = operator_says(
        ("Ready", "False", "DigestMismatch", "The bytes hash to sha256:1, not sha256:2."),
        ("Stalled", "True", "DigestMismatch", "The bytes hash to sha256:1, not sha256:2."),
    )

    code = register(str(model_file), "--model", "churn", "--to=s3://mdl/s/", "--no-git", "--wait")

    err = capsys.readouterr().err
    assert code == 1
    assert "is stalled: DigestMismatch: The bytes hash to sha256:1, not sha256:2." in err
    # Not a terminal: each condition is printed once as it appears.
    assert "Stalled=True DigestMismatch" in err


def test_a_wait_that_times_out_exits_3(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session.operator = operator_says(
        ("Ready", "Unknown", "Validating", "The checks run."),
        ("Reconciling", "True", "Validating", "The checks run."),
    )

    code = register(
        str(model_file), "--model=churn", "--to=s3://mdl/t/", "--no-git", "--wait", "--timeout=0.1"
    )

    assert code == 3
    assert "was not Ready within 0s (Ready is Unknown: Validating" in capsys.readouterr().err


def test_errors_of_the_registry_exit_1_naming_the_fix(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = register(str(model_file), "--model", "fraud", "--to=s3://mdl/f/", "--no-git")

    assert code == 1
    assert "Model 'fraud' does not exist in namespace 'ml'" in capsys.readouterr().err

    session.refuse = 'modelversions.modelregistry.io is forbidden: User "bob" cannot create'
    code = register(str(model_file), "--model", "churn", "--to=s3://mdl/g/", "--no-git")

    assert code == 1
    assert "refused by the API server: modelversions" in capsys.readouterr().err


def test_promote_status_and_list(
    session: FakeSession, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register(str(model_file), "--model=churn", "--to=s3://mdl/p/", "--no-git", "--name=churn-1")
    session.operator = operator_says(("Ready", "True", "Succeeded", "Verified."))
    capsys.readouterr()

    assert cli.main(["promote", "churn-1", "--stage", "Production"]) == 0
    assert "churn-1: asked for Production (spec.stage)" in capsys.readouterr().out

    assert cli.main(["status", "churn-1"]) == 0
    shown = capsys.readouterr().out
    assert "churn-1: Model churn, version 1" in shown
    assert "stage:     None (asked: Production)" in shown
    assert "Ready  True    Succeeded  Verified." in shown

    assert cli.main(["list", "--model", "churn", "-o", "yaml"]) == 0
    (listed,) = yaml.safe_load(capsys.readouterr().out)
    assert (listed["name"], listed["stageAsked"], listed["ready"]) == (
        "churn-1",
        "Production",
        "True",
    )

    assert cli.main(["list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "MODEL", "VERSION", "STAGE", "ALIASES", "METRICS", "CREATED"]
    assert row.split() == ["churn-1", "churn", "1", "None", "-", "-", "2026-01-01T00:00:00Z"]

    assert cli.main(["promote", "churn-2", "--stage", "Staging"]) == 1
    assert "ModelVersion 'churn-2' does not exist" in capsys.readouterr().err
