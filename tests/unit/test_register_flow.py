"""register_model with an in-memory API server and S3: what it checks first, and what it creates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelregistry import client
from modelregistry.client.spec import SpecError, VersionPlan, version_body
from modelregistry.digest import digest_local_path
from tests.unit.clientfakes import FakeSession, operator_says
from tests.unit.test_checks_artifacts import sklearn_mlflow_model
from tests.unit.test_register_transfer import FakeS3


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    root.mkdir()
    for args in (
        ["init", "-q"],
        ["config", "user.email", "ml@example.com"],
        ["config", "user.name", "ML"],
        ["remote", "add", "origin", "https://git.example.com/ml/churn.git"],
    ):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    (root / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", "train"], check=True)
    return root


def commit_of(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_an_mlflow_directory_is_registered_with_its_digest_lineage_and_signature(
    tmp_path: Path, repo: Path
) -> None:
    root = sklearn_mlflow_model(tmp_path / "model")
    session, s3 = FakeSession(), FakeS3()

    registered = client.register_model(
        root,
        "churn",
        to="s3://models/churn/7/",
        session=session.as_session(),
        git_dir=repo,
        metrics={"auc": 0.9},
        hyperparameters={"C": "1.0"},
        stage="Staging",
        s3_client=s3,
    )

    assert registered.digest == digest_local_path(root).digest
    assert registered.name.startswith("churn-")
    body = session.objects[("modelversions", registered.name)]
    spec = body["spec"]
    assert spec["artifact"] == {
        "uri": "s3://models/churn/7/",
        "digest": registered.digest,
        "format": "mlflow",
    }
    assert spec["lineage"] == {
        "code": {"repository": "https://git.example.com/ml/churn.git", "commit": commit_of(repo)}
    }
    assert spec["signature"]["inputs"][0] == {"name": "x", "dtype": "float64"}
    assert (spec["metrics"], spec["hyperparameters"], spec["stage"]) == (
        {"auc": 0.9},
        {"C": "1.0"},
        "Staging",
    )
    annotations = body["metadata"]["annotations"]
    assert annotations["modelregistry.io/mlflow-flavors"] == "python_function,sklearn"


def test_a_dirty_tree_is_refused_before_a_byte_is_uploaded(tmp_path: Path, repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    s3 = FakeS3()

    with pytest.raises(client.RegistryError, match=r"uncommitted changes \(train.py\)"):
        client.register_model(
            path,
            "churn",
            to="s3://mdl/a/",
            session=FakeSession().as_session(),
            git_dir=repo,
            s3_client=s3,
        )
    assert s3.objects == {}

    registered = client.register_model(
        path,
        "churn",
        to="s3://mdl/a/",
        session=FakeSession().as_session(),
        git_dir=repo,
        allow_dirty=True,
        s3_client=s3,
    )
    assert registered.uri == "s3://mdl/a/model.onnx"


def test_a_missing_model_is_refused_unless_asked_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    session = FakeSession(models=())

    with pytest.raises(client.RegistryError, match=r"Model 'fraud' does not exist.*--create-model"):
        client.register_model(
            path,
            "fraud",
            to="s3://mdl/f/",
            session=session.as_session(),
            use_git=False,
            s3_client=FakeS3(),
        )

    client.register_model(
        path,
        "fraud",
        to="s3://mdl/f/",
        session=session.as_session(),
        use_git=False,
        create_model=True,
        s3_client=FakeS3(),
    )
    assert ("models", "fraud") in session.objects


def test_without_a_destination_it_names_the_flag_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELREGISTRY_ARTIFACT_ROOT", raising=False)
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")

    with pytest.raises(client.RegistryError, match=r"--to s3://.*MODELREGISTRY_ARTIFACT_ROOT"):
        client.register_model(path, "churn", session=FakeSession().as_session(), use_git=False)


def test_the_default_destination_is_new_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELREGISTRY_ARTIFACT_ROOT", "s3://models/team")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")

    first = client.register_model(
        path, "churn", session=FakeSession().as_session(), use_git=False, s3_client=FakeS3()
    )
    second = client.register_model(
        path, "churn", session=FakeSession().as_session(), use_git=False, s3_client=FakeS3()
    )

    assert first.uri.startswith("s3://models/team/ml/churn/")
    assert first.uri.endswith("/model.onnx")
    assert first.uri != second.uri


def test_wait_returns_once_ready_and_raises_the_stalled_reason(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    session = FakeSession()
    session.operator = operator_says(("Ready", "True", "Succeeded", "Verified and validated."))

    ready = client.register_model(
        path,
        "churn",
        to="s3://mdl/r/",
        session=session.as_session(),
        use_git=False,
        wait=True,
        s3_client=FakeS3(),
    )
    assert ready.ready

    session.operator = operator_says(
        ("Ready", "False", "DigestMismatch", "The bytes hash to sha256:1..."),
        ("Stalled", "True", "DigestMismatch", "The bytes hash to sha256:1..."),
    )
    with pytest.raises(client.VersionStalled, match="DigestMismatch: The bytes hash") as stalled:
        client.register_model(
            path,
            "churn",
            to="s3://mdl/s/",
            session=session.as_session(),
            use_git=False,
            wait=True,
            s3_client=FakeS3(),
        )
    assert stalled.value.reason == "DigestMismatch"


def test_a_spec_the_api_would_refuse_is_refused_naming_the_field() -> None:
    plan = VersionPlan(
        model="churn",
        uri="s3://models/churn/1/",
        signature={"inputs": [{"name": f"c{i}", "dtype": "float64"} for i in range(300)]},
    )
    with pytest.raises(SpecError, match=r"spec.signature.inputs: List should have at most 256"):
        version_body(plan)


def test_a_named_version_has_a_name_and_an_unnamed_one_a_generated_one() -> None:
    named = version_body(VersionPlan(model="churn", uri="s3://mdl/a", name="churn-7", version=7))
    unnamed = version_body(VersionPlan(model="churn", uri="s3://mdl/a"))

    assert named["metadata"] == {"name": "churn-7"}
    assert named["spec"]["version"] == 7
    assert unnamed["metadata"] == {"generateName": "churn-"}
    assert "lineage" not in unnamed["spec"] and "metrics" not in unnamed["spec"]


def test_a_uri_the_api_would_refuse_is_said_in_words_not_as_a_pattern() -> None:
    with pytest.raises(SpecError, match=r"spec.artifact.uri: 's3://m1/a' is not s3://BUCKET/KEY"):
        version_body(VersionPlan(model="churn", uri="s3://m1/a"))
