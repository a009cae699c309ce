"""The validation Pod of one run, as the API server receives it; and the init container's
`modelregistry fetch` up to the point where it would download."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from modelregistry import fetch as fetching
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    Validation,
    ValidationCheck,
    ValidationStatus,
    VerifiedArtifact,
    VerifiedFile,
)
from modelregistry.checks.report import Report
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.validation import Plan
from modelregistry.decisions.validationpod import (
    DEFAULT_RESOURCES,
    PodSettings,
    artifact_path,
    build_pod,
    fetch_plan,
    label_value,
)

from .builders import DIGEST_A, DIGEST_B, DIGEST_C, NOW, NOW_TEXT, PREFIX_URI, URI, record

OWN_IMAGE = "ghcr.io/example/modelregistry:0.4.0"
CUSTOM_IMAGE = "registry.example/fairness@sha256:" + "9" * 64
UID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
SETTINGS = PodSettings(
    image=OWN_IMAGE,
    pull_policy="Always",
    endpoint="http://minio.modelregistry-system:9000",
    region="us-east-1",
    addressing_style="virtual",
)

FORMAT = ValidationCheck(name="format", builtin="format")
LOAD = ValidationCheck(name="load", builtin="loadAndPredict", calls=50, max_latency_p95_ms=12.5)
QUALITY = ValidationCheck(name="quality", builtin="metrics", thresholds=["f1 >= 0.8"])
FAIRNESS = ValidationCheck.model_validate(
    {
        "name": "fairness",
        "image": CUSTOM_IMAGE,
        "command": ["python", "-m", "fairness"],
        "args": ["--group", "age", "--max-gap", "0.02"],
        "env": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "EMPTY"}],
        "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
    }
)
POLICY = ValidationPolicy(require_signature=True, metric_thresholds=["auc >= 0.9"])

STORAGE = {
    "endpoint": "https://s3.eu-west-1.amazonaws.com",
    "region": "eu-west-1",
    "addressingStyle": "path",
    "secretRef": {"name": "s3-credentials"},
}

SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
CHECK_MOUNTS = [
    {"name": "artifact", "mountPath": "/artifact", "readOnly": True},
    {"name": "meta", "mountPath": "/meta", "readOnly": True},
    {"name": "tmp", "mountPath": "/tmp"},
]
DEFAULTS = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def spec_body(
    uri: str = URI, storage: dict[str, Any] | None = None, validation: dict[str, Any] | None = None
) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": uri, "digest": DIGEST_A, "format": "onnx"}
    if storage is not None:
        artifact["storage"] = storage
    body: dict[str, Any] = {
        "modelRef": {"name": "fraud"},
        "version": 3,
        "artifact": artifact,
        "metrics": {"auc": 0.93},
    }
    if validation is not None:
        body["validation"] = validation
    return body


def view_of(
    body: dict[str, Any] | None = None,
    artifact: VerifiedArtifact | None = None,
    *,
    name: str = "fraud-v3",
    namespace: str = "team-a",
) -> VersionView:
    spec = ModelVersionSpec.model_validate(body if body is not None else spec_body())
    verified = artifact if artifact is not None else record(spec.artifact.uri, version_id="v7")
    return VersionView(spec, ModelVersionStatus(artifact=verified), 4, NOW, namespace, name)


def run_of(run: int = 2, pod: str | None = "fraud-v3-validation-2") -> ValidationStatus:
    return ValidationStatus(run=run, checks_digest=DIGEST_C, pod_name=pod, started_at=NOW_TEXT)


def pod_of(
    plan: Plan,
    view: VersionView | None = None,
    settings: PodSettings = SETTINGS,
    run: ValidationStatus | None = None,
) -> dict[str, Any]:
    return build_pod(view if view is not None else view_of(), UID, run or run_of(), plan, settings)


def containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod["spec"]["containers"]}


def fetch_container(pod: dict[str, Any]) -> dict[str, Any]:
    (init,) = pod["spec"]["initContainers"]
    assert isinstance(init, dict)
    return init


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def fetch_env(pod: dict[str, Any]) -> dict[str, Any]:
    env = env_of(fetch_container(pod))
    return {**env, "MODELREGISTRY_FETCH_PLAN": json.loads(env["MODELREGISTRY_FETCH_PLAN"])}


# --- the whole Pod ----------------------------------------------------------------------------


def test_the_whole_pod_of_a_run() -> None:
    validation = {
        "checks": [
            {"name": "format", "builtin": "format"},
            {"name": "quality", "builtin": "metrics", "thresholds": ["f1 >= 0.8"]},
            {"name": "load", "builtin": "loadAndPredict", "calls": 50, "maxLatencyP95Ms": 12.5},
            FAIRNESS.model_dump(mode="json", by_alias=True, exclude_none=True),
        ],
        "deadlineSeconds": 900,
    }
    view = view_of(spec_body(storage=STORAGE, validation=validation))
    plan = Plan(view.spec.validation, POLICY)
    spec_json = json.dumps(
        {
            "artifact": {
                "digest": DIGEST_A,
                "format": "onnx",
                "storage": STORAGE,
                "uri": URI,
            },
            "components": [],
            "metrics": {"auc": 0.93},
            "modelRef": {"name": "fraud"},
            "stage": "None",
            "validation": {
                "checks": [
                    {
                        "args": [],
                        "builtin": "format",
                        "command": [],
                        "env": [],
                        "name": "format",
                        "thresholds": [],
                    },
                    {
                        "args": [],
                        "builtin": "metrics",
                        "command": [],
                        "env": [],
                        "name": "quality",
                        "thresholds": ["f1 >= 0.8"],
                    },
                    {
                        "args": [],
                        "builtin": "loadAndPredict",
                        "calls": 50,
                        "command": [],
                        "env": [],
                        "maxLatencyP95Ms": 12.5,
                        "name": "load",
                        "thresholds": [],
                    },
                    {
                        "args": ["--group", "age", "--max-gap", "0.02"],
                        "command": ["python", "-m", "fairness"],
                        "env": [
                            {"name": "LOG_LEVEL", "value": "debug"},
                            {"name": "EMPTY", "value": ""},
                        ],
                        "image": CUSTOM_IMAGE,
                        "name": "fairness",
                        "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
                        "thresholds": [],
                    },
                ],
                "deadlineSeconds": 900,
            },
            "version": 3,
        },
        sort_keys=True,
    )
    plan_json = json.dumps(
        {
            "uri": URI,
            "digest": DIGEST_A,
            "versionId": "v7",
            "files": [],
            "endpoint": "https://s3.eu-west-1.amazonaws.com",
            "region": "eu-west-1",
            "addressingStyle": "path",
        }
    )
    builtin = ["--artifact", "/artifact/model.onnx", "--spec", "/meta/spec.json"]

    pod = build_pod(view, UID, run_of(), plan, SETTINGS)

    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "fraud-v3-validation-2",
            "namespace": "team-a",
            "labels": {
                "modelregistry.io/model-version": "fraud-v3",
                "modelregistry.io/model-version-uid": UID,
                "modelregistry.io/validation-run": "2",
                "app.kubernetes.io/managed-by": "modelregistry-operator",
                "app.kubernetes.io/component": "validation",
            },
            "ownerReferences": [
                {
                    "apiVersion": "modelregistry.io/v1alpha1",
                    "kind": "ModelVersion",
                    "name": "fraud-v3",
                    "uid": UID,
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 900,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "fsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [
                {
                    "name": "fetch",
                    "image": OWN_IMAGE,
                    "imagePullPolicy": "Always",
                    "args": ["fetch", "--dest", "/artifact", "--meta", "/meta"],
                    "env": [
                        {"name": "MODELREGISTRY_FETCH_PLAN", "value": plan_json},
                        {"name": "MODELREGISTRY_SPEC", "value": spec_json},
                        {"name": "HOME", "value": "/tmp"},
                    ],
                    "envFrom": [{"secretRef": {"name": "s3-credentials"}}],
                    "volumeMounts": [
                        {"name": "artifact", "mountPath": "/artifact"},
                        {"name": "meta", "mountPath": "/meta"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                    "resources": DEFAULTS,
                    "securityContext": SECURITY,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                }
            ],
            "containers": [
                {
                    "name": "format",
                    "image": OWN_IMAGE,
                    "imagePullPolicy": "Always",
                    "args": ["validate", "format", *builtin, "--require-signature"],
                    "env": [{"name": "HOME", "value": "/tmp"}],
                    "volumeMounts": CHECK_MOUNTS,
                    "resources": DEFAULTS,
                    "securityContext": SECURITY,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                },
                {
                    "name": "load",
                    "image": OWN_IMAGE,
                    "imagePullPolicy": "Always",
                    "args": [
                        "validate",
                        "loadAndPredict",
                        *builtin,
                        "--calls",
                        "50",
                        "--max-latency-p95-ms",
                        "12.5",
                    ],
                    "env": [{"name": "HOME", "value": "/tmp"}],
                    "volumeMounts": CHECK_MOUNTS,
                    "resources": DEFAULTS,
                    "securityContext": SECURITY,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                },
                {
                    "name": "fairness",
                    "image": CUSTOM_IMAGE,
                    "command": ["python", "-m", "fairness"],
                    "args": ["--group", "age", "--max-gap", "0.02"],
                    "env": [
                        {"name": "HOME", "value": "/tmp"},
                        {"name": "LOG_LEVEL", "value": "debug"},
                        {"name": "EMPTY", "value": ""},
                        {"name": "MODELREGISTRY_ARTIFACT", "value": "/artifact/model.onnx"},
                        {"name": "MODELREGISTRY_META", "value": "/meta"},
                    ],
                    "volumeMounts": CHECK_MOUNTS,
                    "resources": {"limits": {"cpu": "2", "memory": "2Gi"}},
                    "securityContext": SECURITY,
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                },
            ],
            "volumes": [
                {"name": "artifact", "emptyDir": {}},
                {"name": "meta", "emptyDir": {"sizeLimit": "16Mi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
        },
    }


def test_the_default_resources_are_the_documented_ones() -> None:
    assert DEFAULTS == DEFAULT_RESOURCES


def test_every_container_is_locked_down() -> None:
    pod = pod_of(Plan(Validation(checks=[FORMAT, LOAD, FAIRNESS]), POLICY))

    every = [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]

    assert [c["name"] for c in every] == ["fetch", "format", "load", "fairness"]
    assert all(c["securityContext"] == SECURITY for c in every)
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["enableServiceLinks"] is False


def test_only_the_fetch_step_sees_the_storage_credentials() -> None:
    view = view_of(spec_body(storage=STORAGE))

    pod = pod_of(Plan(Validation(checks=[FORMAT, FAIRNESS])), view)

    assert fetch_container(pod)["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert [c.get("envFrom") for c in pod["spec"]["containers"]] == [None, None]
    for check in pod["spec"]["containers"]:
        assert all(not e["name"].startswith("AWS_") for e in check["env"])
        assert "MODELREGISTRY_FETCH_PLAN" not in env_of(check)


@pytest.mark.parametrize(
    "storage", [None, {"endpoint": "http://minio.storage:9000"}], ids=["no-storage", "no-secret"]
)
def test_without_a_secret_no_credentials_are_mounted(storage: dict[str, Any] | None) -> None:
    pod = pod_of(Plan(Validation(checks=[FORMAT])), view_of(spec_body(storage=storage)))

    assert "envFrom" not in fetch_container(pod)


# --- the fetch plan ---------------------------------------------------------------------------


def test_the_artifact_s_own_storage_wins_over_the_operator_s() -> None:
    pod = pod_of(Plan(Validation(checks=[FORMAT])), view_of(spec_body(storage=STORAGE)))

    assert fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"] == {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "files": [],
        "endpoint": "https://s3.eu-west-1.amazonaws.com",
        "region": "eu-west-1",
        "addressingStyle": "path",
    }


@pytest.mark.parametrize(
    "storage", [None, {"secretRef": {"name": "s3-credentials"}}], ids=["none", "secret-only"]
)
def test_the_operator_s_storage_settings_fill_in(storage: dict[str, Any] | None) -> None:
    view = view_of(spec_body(storage=storage))

    assert fetch_plan(view, SETTINGS) == {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "files": [],
        "endpoint": "http://minio.modelregistry-system:9000",
        "region": "us-east-1",
        "addressingStyle": "virtual",
    }


def test_each_storage_setting_falls_back_on_its_own() -> None:
    view = view_of(spec_body(storage={"region": "ap-south-1"}))

    planned = fetch_plan(view, SETTINGS)

    assert (planned["endpoint"], planned["region"], planned["addressingStyle"]) == (
        "http://minio.modelregistry-system:9000",
        "ap-south-1",
        "virtual",
    )


def test_without_any_storage_settings_the_plan_leaves_them_to_boto() -> None:
    settings = PodSettings(image=OWN_IMAGE)

    pod = pod_of(Plan(Validation(checks=[FORMAT])), settings=settings)

    assert fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"] == {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "files": [],
        "endpoint": None,
        "region": None,
        "addressingStyle": None,
    }
    assert fetch_container(pod)["imagePullPolicy"] == "IfNotPresent"
    assert containers(pod)["format"]["imagePullPolicy"] == "IfNotPresent"


def test_a_prefix_is_fetched_at_the_verified_file_versions() -> None:
    verified = VerifiedArtifact(
        uri=PREFIX_URI,
        digest=DIGEST_B,
        size=100,
        file_count=2,
        files=[
            VerifiedFile(path="MLmodel", digest=DIGEST_A, size=10, version_id="m1"),
            VerifiedFile(path="data/model.pkl", digest=DIGEST_C, size=90),
        ],
        verified_at=NOW_TEXT,
    )
    view = view_of(spec_body(uri=PREFIX_URI), verified)

    assert fetch_plan(view, SETTINGS) == {
        "uri": PREFIX_URI,
        "digest": DIGEST_B,
        "versionId": None,
        "files": [
            {"path": "MLmodel", "versionId": "m1"},
            {"path": "data/model.pkl", "versionId": None},
        ],
        "endpoint": "http://minio.modelregistry-system:9000",
        "region": "us-east-1",
        "addressingStyle": "virtual",
    }


def test_the_plan_carries_the_verified_bytes_not_the_spec() -> None:
    view = view_of(artifact=record(URI, DIGEST_B, version_id="v9"))

    planned = fetch_plan(view, SETTINGS)

    assert (planned["digest"], planned["versionId"]) == (DIGEST_B, "v9")


def test_nothing_verified_nothing_to_fetch() -> None:
    view = replace(view_of(), status=ModelVersionStatus())

    with pytest.raises(
        ValueError, match=r"^a validation Pod needs the verified artifact in status$"
    ):
        fetch_plan(view, SETTINGS)
    with pytest.raises(ValueError, match=r"^a validation Pod needs the verified artifact"):
        pod_of(Plan(Validation(checks=[FORMAT])), view)


def test_a_run_without_a_pod_name_has_no_pod() -> None:
    with pytest.raises(ValueError, match=r"^the run has no Pod$"):
        pod_of(Plan(Validation(checks=[FORMAT])), run=run_of(pod=None))


# --- the checks' containers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [None, ValidationPolicy(), ValidationPolicy(require_signature=False)],
    ids=["no-policy", "unset", "false"],
)
def test_the_format_check_requires_a_signature_only_when_the_policy_says_so(
    policy: ValidationPolicy | None,
) -> None:
    pod = pod_of(Plan(Validation(checks=[FORMAT]), policy))

    assert containers(pod)["format"]["args"] == [
        "validate",
        "format",
        "--artifact",
        "/artifact/model.onnx",
        "--spec",
        "/meta/spec.json",
    ]


def test_the_signature_rule_is_for_the_format_check_only() -> None:
    plain = ValidationCheck(name="predict", builtin="loadAndPredict")

    pod = pod_of(Plan(Validation(checks=[plain, FAIRNESS]), POLICY))

    assert containers(pod)["predict"]["args"] == [
        "validate",
        "loadAndPredict",
        "--artifact",
        "/artifact/model.onnx",
        "--spec",
        "/meta/spec.json",
    ]
    assert containers(pod)["fairness"]["args"] == ["--group", "age", "--max-gap", "0.02"]


@pytest.mark.parametrize(
    ("calls", "latency", "flags"),
    [
        (1, None, ["--calls", "1"]),
        (None, 250.0, ["--max-latency-p95-ms", "250"]),
        (10000, 0.001, ["--calls", "10000", "--max-latency-p95-ms", "0.001"]),
    ],
)
def test_load_and_predict_passes_its_calls_and_latency(
    calls: int | None, latency: float | None, flags: list[str]
) -> None:
    check = ValidationCheck(
        name="load", builtin="loadAndPredict", calls=calls, max_latency_p95_ms=latency
    )

    pod = pod_of(Plan(Validation(checks=[check])))

    assert containers(pod)["load"]["args"][6:] == flags


def test_the_metrics_check_has_no_container() -> None:
    pod = pod_of(
        Plan(Validation(checks=[QUALITY, FORMAT, QUALITY.model_copy(update={"name": "q2"})]))
    )

    assert list(containers(pod)) == ["format"]


def test_a_custom_check_without_command_or_args_keeps_its_image_s() -> None:
    check = ValidationCheck(name="smoke", image="registry.example/smoke:1")

    pod = pod_of(Plan(Validation(checks=[check])), view_of(spec_body(uri=PREFIX_URI)))

    assert containers(pod)["smoke"] == {
        "name": "smoke",
        "image": "registry.example/smoke:1",
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "MODELREGISTRY_ARTIFACT", "value": "/artifact"},
            {"name": "MODELREGISTRY_META", "value": "/meta"},
        ],
        "volumeMounts": CHECK_MOUNTS,
        "resources": DEFAULTS,
        "securityContext": SECURITY,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def test_a_check_s_resources_replace_the_defaults_as_written() -> None:
    check = ValidationCheck.model_validate(
        {
            "name": "load",
            "builtin": "loadAndPredict",
            "resources": {"requests": {"cpu": "1", "memory": "3Gi"}},
        }
    )

    pod = pod_of(Plan(Validation(checks=[check, FORMAT])))

    assert containers(pod)["load"]["resources"] == {"requests": {"cpu": "1", "memory": "3Gi"}}
    assert containers(pod)["format"]["resources"] == DEFAULTS
    assert fetch_container(pod)["resources"] == DEFAULTS


def test_a_builtin_check_reads_a_prefix_artifact_from_its_directory() -> None:
    pod = pod_of(Plan(Validation(checks=[FORMAT])), view_of(spec_body(uri=PREFIX_URI)))

    assert containers(pod)["format"]["args"][2:4] == ["--artifact", "/artifact"]


# --- deadline, labels, names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "deadline"),
    [
        (Plan(Validation(checks=[FORMAT])), 600),
        (Plan(Validation(checks=[FORMAT], deadline_seconds=1)), 1),
        (Plan(Validation(checks=[FORMAT], deadline_seconds=86400)), 86400),
        (Plan(None), 600),
    ],
)
def test_the_deadline_is_the_validation_s_or_ten_minutes(plan: Plan, deadline: int) -> None:
    assert pod_of(plan)["spec"]["activeDeadlineSeconds"] == deadline


def test_the_pod_is_labelled_and_owned_by_its_version() -> None:
    long = "fraud-detector-" + "x" * 60 + ".v3"
    view = view_of(name=long, namespace="risk-prod")

    pod = pod_of(Plan(Validation(checks=[FORMAT])), view, run=run_of(11, f"{long}-validation-11"))

    digest = hashlib.sha256(long.encode()).hexdigest()[:10]
    assert pod["metadata"] == {
        "name": f"{long}-validation-11",
        "namespace": "risk-prod",
        "labels": {
            "modelregistry.io/model-version": long[:52] + "-" + digest,
            "modelregistry.io/model-version-uid": UID,
            "modelregistry.io/validation-run": "11",
            "app.kubernetes.io/managed-by": "modelregistry-operator",
            "app.kubernetes.io/component": "validation",
        },
        "ownerReferences": [
            {
                "apiVersion": "modelregistry.io/v1alpha1",
                "kind": "ModelVersion",
                "name": long,
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ],
    }


@pytest.mark.parametrize("length", [1, 62, 63])
def test_a_short_name_is_its_own_label_value(length: int) -> None:
    name = "a" * length

    assert label_value(name) == name


@pytest.mark.parametrize("length", [64, 253])
def test_a_long_name_is_cut_and_hashed_into_63_characters(length: int) -> None:
    name = "b" * (length - 1) + "c"

    value = label_value(name)

    assert value == "b" * 52 + "-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    assert len(value) == 63


def test_long_names_that_share_a_beginning_get_distinct_label_values() -> None:
    stem = "m" * 60

    assert label_value(stem + "-one") != label_value(stem + "-two")


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        (URI, "/artifact/model.onnx"),
        ("s3://models/model.onnx", "/artifact/model.onnx"),
        ("s3://models/a/b/c/weights.safetensors", "/artifact/weights.safetensors"),
        (PREFIX_URI, "/artifact"),
        ("s3://models/a/", "/artifact"),
        ("s3://models/", "/artifact"),
        ("s3://models", "/artifact"),
    ],
)
def test_where_the_artifact_lies_in_the_pod(uri: str, path: str) -> None:
    assert artifact_path(uri) == path


# --- modelregistry fetch, up to the download --------------------------------------------------


def report_text(passed: bool, message: str) -> str:
    return Report("fetch", passed, message=message).encode()


def test_fetch_without_a_plan_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)
    termination = tmp_path / "termination-log"
    expected = report_text(
        False,
        "MODELREGISTRY_FETCH_PLAN is missing or not JSON: 'MODELREGISTRY_FETCH_PLAN'",
    )

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == fetching.EXIT_USAGE == 2
    assert termination.read_text() == expected
    assert capsys.readouterr().out == expected + "\n"
    assert not (tmp_path / "artifact").exists()
    assert not (tmp_path / "meta").exists()


def test_fetch_with_a_plan_that_is_not_json_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", "uri=s3://models/x")

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", None)

    assert code == 2
    assert capsys.readouterr().out == (
        report_text(
            False,
            "MODELREGISTRY_FETCH_PLAN is missing or not JSON: Expecting value: line 1 column 1 "
            "(char 0)",
        )
        + "\n"
    )


def test_fetch_names_the_variables_the_pod_sets() -> None:
    assert fetching.PLAN_VARIABLE == "MODELREGISTRY_FETCH_PLAN"
    assert fetching.SPEC_VARIABLE == "MODELREGISTRY_SPEC"
    assert fetching.EXIT_CHANGED == 3


def fake_download(content: bytes) -> Any:
    def download(plan: dict[str, Any], destination: Path) -> Path:
        destination.mkdir(parents=True, exist_ok=True)
        target = destination / "model.onnx"
        target.write_bytes(content)
        return target

    return download


def test_fetched_bytes_that_match_are_handed_over_with_the_meta_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"onnx bytes"
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    plan = {"uri": URI, "digest": digest, "versionId": "v7", "files": []}
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setenv("MODELREGISTRY_SPEC", '{"modelRef":{"name":"fraud"}}')
    monkeypatch.setattr(fetching, "fetch", fake_download(content))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 0
    assert termination.read_text() == report_text(True, f"Fetched {URI} ({digest}).")
    assert (tmp_path / "meta" / "spec.json").read_text() == '{"modelRef":{"name":"fraud"}}'
    assert (tmp_path / "meta" / "digest").read_text() == digest
    assert (tmp_path / "meta" / "version-id").read_text() == "v7"


def test_fetched_bytes_that_changed_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b"other bytes"
    observed = "sha256:" + hashlib.sha256(content).hexdigest()
    plan: dict[str, Any] = {"uri": URI, "digest": DIGEST_A, "versionId": None, "files": []}
    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps(plan))
    monkeypatch.setattr(fetching, "fetch", fake_download(content))
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 3
    assert termination.read_text() == report_text(
        False,
        f"{URI} hashes to {observed} now, but {DIGEST_A} was verified: the bytes changed "
        "before validation. Nothing was validated.",
    )
    assert not (tmp_path / "meta").exists()


def test_a_fetch_that_cannot_read_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(plan: dict[str, Any], destination: Path) -> Path:
        raise PermissionError("AccessDenied: no s3:GetObject")

    monkeypatch.setenv("MODELREGISTRY_FETCH_PLAN", json.dumps({"uri": URI, "digest": DIGEST_A}))
    monkeypatch.setattr(fetching, "fetch", refuse)
    termination = tmp_path / "termination-log"

    code = fetching.run_fetch(tmp_path / "artifact", tmp_path / "meta", termination)

    assert code == 4
    assert termination.read_text() == report_text(
        False, f"Could not fetch {URI}: AccessDenied: no s3:GetObject"
    )


def test_a_report_path_in_a_missing_directory_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)

    code = fetching.run_fetch(tmp_path / "a", tmp_path / "m", tmp_path / "no" / "termination-log")

    assert code == 2
    assert not (tmp_path / "no").exists()
    assert capsys.readouterr().err == ""


def test_a_report_that_cannot_be_written_is_said_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MODELREGISTRY_FETCH_PLAN", raising=False)
    directory = tmp_path / "termination-log"
    directory.mkdir()

    code = fetching.run_fetch(tmp_path / "a", tmp_path / "m", directory)

    assert code == 2
    assert capsys.readouterr().err.startswith("modelregistry fetch: cannot write the report: ")
