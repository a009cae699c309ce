"""The validation Pod of one run, as the API server receives it: generated name, owner and
labels, the box (ServiceAccount, security context, resources, scratch volumes, runtime class),
the fetch step and the checks' containers, and the spec digest it carries."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from modelregistry.api.meta import DNS_SUBDOMAIN_PATTERN
from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import (
    CheckResources,
    ModelVersionSpec,
    ModelVersionStatus,
    StorageSettings,
    ValidationCheck,
    ValidationStatus,
    VerifiedArtifact,
    VerifiedFile,
)
from modelregistry.decisions import validationpod
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.podspec import fingerprint
from modelregistry.decisions.validationplan import Compared, Plan
from modelregistry.decisions.validationpod import (
    DatasetRecord,
    PodSettings,
    ResourceBox,
    against_path,
    artifact_path,
    artifact_size_limit,
    build_pod,
    container_resources,
    dataset_path,
    fetch_plan,
    generate_name,
    label_value,
)

from .builders import (
    DIGEST_A,
    DIGEST_B,
    DIGEST_C,
    DIGEST_D,
    HEX_C,
    NOW,
    NOW_TEXT,
    PREFIX_URI,
    URI,
    record,
)
from .validationbuilders import FORMAT, OWN_IMAGE, POLICY, QUALITY, plan_of

CUSTOM_IMAGE = "registry.example/fairness@sha256:" + "9" * 64
UID = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
SETTINGS = PodSettings(
    image=OWN_IMAGE,
    pull_policy="Always",
    endpoint="http://minio.modelregistry-system:9000",
    region="us-east-1",
    addressing_style="virtual",
)

LOAD = ValidationCheck(name="load", builtin="loadAndPredict", calls=50, max_latency_p95_ms=12.5)
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
DEFAULTS = {
    "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
}


def check_mounts(scratch: str) -> list[dict[str, Any]]:
    return [
        {"name": "artifact", "mountPath": "/artifact", "readOnly": True},
        {"name": "meta", "mountPath": "/meta", "readOnly": True},
        {"name": scratch, "mountPath": "/tmp"},
    ]


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
    return VersionView(spec, ModelVersionStatus(artifact=verified), 4, NOW, namespace, name, UID)


def run_of(run: int = 2) -> ValidationStatus:
    return ValidationStatus(run=run, checks_digest=DIGEST_C, started_at=NOW_TEXT)


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


def test_the_names_the_pod_shares_with_the_operator() -> None:
    assert validationpod.FETCH_CONTAINER == "fetch"
    assert validationpod.SPEC_DIGEST_ANNOTATION == "modelregistry.io/pod-spec-digest"
    assert validationpod.SERVICE_ACCOUNT == "modelregistry-validation"
    assert validationpod.MAX_POD_NAME == 253
    assert validationpod.GENERATED_SUFFIX == 5
    assert validationpod.DEFAULT_DEADLINE_SECONDS == 600
    assert validationpod.NO_INJECTION == {
        "sidecar.istio.io/inject": "false",
        "linkerd.io/inject": "disabled",
    }
    assert validationpod.RESOURCE_KINDS == ("cpu", "memory", "ephemeral-storage")


def test_the_default_box() -> None:
    box = ResourceBox()

    assert (box.requests, box.limits, box.maximum, box.scratch) == (
        DEFAULTS["requests"],
        DEFAULTS["limits"],
        {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi"},
        "256Mi",
    )
    assert PodSettings(image="i") == PodSettings(
        image="i",
        pull_policy="IfNotPresent",
        endpoint=None,
        region=None,
        addressing_style=None,
        default_secret=None,
        service_account="modelregistry-validation",
        runtime_class=None,
        resources=ResourceBox(),
    )


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
    assert view.spec.validation is not None
    plan = plan_of(*view.spec.validation.checks, policy=POLICY, deadline=900)
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
            "size": 42,
            "fileCount": 1,
            "files": [],
            "endpoint": "https://s3.eu-west-1.amazonaws.com",
            "region": "eu-west-1",
            "addressingStyle": "path",
        }
    )
    builtin = ["--artifact", "/artifact/model.onnx", "--spec", "/meta/spec.json"]
    spec = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 900,
        "serviceAccountName": "modelregistry-validation",
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
                    {"name": "scratch-0", "mountPath": "/tmp"},
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
                "volumeMounts": check_mounts("scratch-1"),
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
                "volumeMounts": check_mounts("scratch-2"),
                "resources": DEFAULTS,
                "securityContext": SECURITY,
                "terminationMessagePolicy": "FallbackToLogsOnError",
            },
            {
                "name": "fairness",
                "image": CUSTOM_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python", "-m", "fairness"],
                "args": ["--group", "age", "--max-gap", "0.02"],
                "env": [
                    {"name": "HOME", "value": "/tmp"},
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "EMPTY", "value": ""},
                    {"name": "MODELREGISTRY_ARTIFACT", "value": "/artifact/model.onnx"},
                    {"name": "MODELREGISTRY_META", "value": "/meta"},
                ],
                "volumeMounts": check_mounts("scratch-3"),
                "resources": {
                    "requests": DEFAULTS["requests"],
                    "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
                },
                "securityContext": SECURITY,
                "terminationMessagePolicy": "FallbackToLogsOnError",
            },
        ],
        "volumes": [
            {"name": "artifact", "emptyDir": {"sizeLimit": "2Mi"}},
            {"name": "meta", "emptyDir": {"sizeLimit": "16Mi"}},
            {"name": "scratch-0", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "scratch-1", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "scratch-2", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "scratch-3", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }

    pod = build_pod(view, UID, run_of(), plan, SETTINGS)

    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "fraud-v3-validation-2-",
            "namespace": "team-a",
            "labels": {
                "modelregistry.io/model-version": "fraud-v3",
                "modelregistry.io/model-version-uid": UID,
                "modelregistry.io/validation-run": "2",
                "app.kubernetes.io/managed-by": "modelregistry-operator",
                "app.kubernetes.io/component": "validation",
            },
            "annotations": {
                "modelregistry.io/pod-spec-digest": fingerprint(spec),
                "sidecar.istio.io/inject": "false",
                "linkerd.io/inject": "disabled",
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
        "spec": spec,
    }


def test_the_spec_digest_annotation_is_the_fingerprint_of_the_spec() -> None:
    pod = pod_of(plan_of(FORMAT, LOAD, FAIRNESS))

    assert pod["metadata"]["annotations"]["modelregistry.io/pod-spec-digest"] == fingerprint(
        pod["spec"]
    )
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint(pod["spec"]))


def test_every_container_is_locked_down() -> None:
    pod = pod_of(plan_of(FORMAT, LOAD, FAIRNESS, policy=POLICY))

    every = [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]

    assert [c["name"] for c in every] == ["fetch", "format", "load", "fairness"]
    assert all(c["securityContext"] == SECURITY for c in every)
    assert all(c["terminationMessagePolicy"] == "FallbackToLogsOnError" for c in every)
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["enableServiceLinks"] is False
    assert pod["spec"]["restartPolicy"] == "Never"


def test_each_container_has_a_scratch_volume_of_its_own() -> None:
    box = ResourceBox(scratch="64Mi")
    pod = pod_of(
        plan_of(FORMAT, QUALITY, LOAD, FAIRNESS), settings=replace(SETTINGS, resources=box)
    )

    every = [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]
    scratch = {
        c["name"]: [m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp"] for c in every
    }

    assert scratch == {
        "fetch": ["scratch-0"],
        "format": ["scratch-1"],
        "load": ["scratch-2"],
        "fairness": ["scratch-3"],
    }
    assert pod["spec"]["volumes"][2:] == [
        {"name": f"scratch-{i}", "emptyDir": {"sizeLimit": "64Mi"}} for i in range(4)
    ]


def test_only_the_fetch_step_writes_the_artifact() -> None:
    pod = pod_of(plan_of(FORMAT, FAIRNESS))

    for check in pod["spec"]["containers"]:
        assert [m for m in check["volumeMounts"] if m["name"] in ("artifact", "meta")] == [
            {"name": "artifact", "mountPath": "/artifact", "readOnly": True},
            {"name": "meta", "mountPath": "/meta", "readOnly": True},
        ]


def test_only_the_fetch_step_sees_the_storage_credentials() -> None:
    view = view_of(spec_body(storage=STORAGE))

    pod = pod_of(plan_of(FORMAT, FAIRNESS), view)

    assert fetch_container(pod)["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert [c.get("envFrom") for c in pod["spec"]["containers"]] == [None, None]
    for check in pod["spec"]["containers"]:
        assert all(not e["name"].startswith("AWS_") for e in check["env"])
        assert "MODELREGISTRY_FETCH_PLAN" not in env_of(check)


@pytest.mark.parametrize(
    "storage", [None, {"endpoint": "http://minio.storage:9000"}], ids=["no-storage", "no-secret"]
)
def test_without_a_secret_no_credentials_are_mounted(storage: dict[str, Any] | None) -> None:
    pod = pod_of(plan_of(FORMAT), view_of(spec_body(storage=storage)))

    assert "envFrom" not in fetch_container(pod)


@pytest.mark.parametrize(
    ("storage", "secret"),
    [
        (None, "validation-s3"),
        ({"endpoint": "http://minio.storage:9000"}, "validation-s3"),
        (STORAGE, "s3-credentials"),
    ],
    ids=["no-storage", "no-secret", "own-secret"],
)
def test_the_settings_secret_serves_an_artifact_that_names_none(
    storage: dict[str, Any] | None, secret: str
) -> None:
    settings = replace(SETTINGS, default_secret="validation-s3")

    pod = pod_of(plan_of(FORMAT), view_of(spec_body(storage=storage)), settings)

    assert fetch_container(pod)["envFrom"] == [{"secretRef": {"name": secret}}]


def test_the_pod_runs_as_the_settings_service_account_and_runtime_class() -> None:
    settings = replace(SETTINGS, service_account="mr-box", runtime_class="gvisor")

    spec = pod_of(plan_of(FORMAT), settings=settings)["spec"]

    assert (spec["serviceAccountName"], spec["runtimeClassName"]) == ("mr-box", "gvisor")


@pytest.mark.parametrize("runtime_class", [None, ""])
def test_without_a_runtime_class_the_pod_names_none(runtime_class: str | None) -> None:
    spec = pod_of(plan_of(FORMAT), settings=replace(SETTINGS, runtime_class=runtime_class))["spec"]

    assert "runtimeClassName" not in spec
    assert spec["serviceAccountName"] == "modelregistry-validation"


# --- the fetch plan ---------------------------------------------------------------------------


def test_the_artifact_s_own_storage_wins_over_the_operator_s() -> None:
    pod = pod_of(plan_of(FORMAT), view_of(spec_body(storage=STORAGE)))

    assert fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"] == {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "size": 42,
        "fileCount": 1,
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
        "size": 42,
        "fileCount": 1,
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

    pod = pod_of(plan_of(FORMAT), settings=settings)

    assert fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"] == {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "size": 42,
        "fileCount": 1,
        "files": [],
        "endpoint": None,
        "region": None,
        "addressingStyle": None,
    }
    assert fetch_container(pod)["imagePullPolicy"] == "IfNotPresent"
    assert containers(pod)["format"]["imagePullPolicy"] == "IfNotPresent"


def prefix_record(file_count: int = 2) -> VerifiedArtifact:
    return VerifiedArtifact(
        uri=PREFIX_URI,
        digest=DIGEST_B,
        size=100,
        file_count=file_count,
        files=[
            VerifiedFile(path="MLmodel", digest=DIGEST_A, size=10, version_id="m1"),
            VerifiedFile(path="data/model.pkl", digest=DIGEST_C, size=90),
        ],
        verified_at=NOW_TEXT,
    )


def test_a_prefix_is_fetched_at_the_verified_file_versions() -> None:
    view = view_of(spec_body(uri=PREFIX_URI), prefix_record())

    assert fetch_plan(view, SETTINGS) == {
        "uri": PREFIX_URI,
        "digest": DIGEST_B,
        "versionId": None,
        "size": 100,
        "fileCount": 2,
        "files": [
            {"path": "MLmodel", "versionId": "m1"},
            {"path": "data/model.pkl", "versionId": None},
        ],
        "endpoint": "http://minio.modelregistry-system:9000",
        "region": "us-east-1",
        "addressingStyle": "virtual",
    }


def test_the_plan_carries_the_verified_bytes_not_the_spec() -> None:
    view = view_of(artifact=record(URI, DIGEST_B, version_id="v9", size=7))

    planned = fetch_plan(view, SETTINGS)

    assert (planned["digest"], planned["versionId"], planned["size"]) == (DIGEST_B, "v9", 7)


def test_nothing_verified_nothing_to_fetch() -> None:
    view = replace(view_of(), status=ModelVersionStatus())
    message = r"^a validation Pod needs the verified artifact in status$"

    with pytest.raises(ValueError, match=message):
        fetch_plan(view, SETTINGS)
    with pytest.raises(ValueError, match=message):
        artifact_size_limit(view)
    with pytest.raises(ValueError, match=message):
        pod_of(plan_of(FORMAT), view)


# --- the artifact volume ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "files", "limit"),
    [
        (0, 1, "2Mi"),  # 1 MiB of room for the fetch, and a block per file and one more
        (42, 1, "2Mi"),
        (2**20 - 2 * 4096, 1, "2Mi"),
        (2**20 - 2 * 4096 + 1, 1, "3Mi"),
        (2**20 - 3 * 4096, 2, "2Mi"),
        (2**20 - 3 * 4096 + 1, 2, "3Mi"),
        (10 * 2**30, 1, f"{10 * 1024 + 2}Mi"),
        (1023 * 2**20 - 2 * 4096, 1, "1024Mi"),
        (5 * 2**20, 255, "7Mi"),
        (5 * 2**20, 256, "8Mi"),
        (5 * 2**20 - 4096, 256, "7Mi"),
    ],
)
def test_the_artifact_volume_holds_exactly_the_verified_bytes(
    size: int, files: int, limit: str
) -> None:
    verified = record(size=size).model_copy(update={"file_count": files})
    view = view_of(artifact=verified)

    assert artifact_size_limit(view) == limit
    assert pod_of(plan_of(FORMAT), view)["spec"]["volumes"][0] == {
        "name": "artifact",
        "emptyDir": {"sizeLimit": limit},
    }


# --- resources --------------------------------------------------------------------------------

BOX = ResourceBox()


def asked(**fields: dict[str, str]) -> CheckResources:
    return CheckResources.model_validate(fields)


@pytest.mark.parametrize(
    ("resources", "box", "expected"),
    [
        # Nothing asked: the defaults.
        (None, BOX, DEFAULTS),
        (asked(), BOX, DEFAULTS),
        # A limit asked replaces the default; the requests stay.
        (
            asked(limits={"cpu": "2", "memory": "2Gi"}),
            BOX,
            {
                "requests": DEFAULTS["requests"],
                "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
            },
        ),
        # A request above the default limit raises the limit with it.
        (
            asked(requests={"cpu": "1500m", "memory": "3Gi", "ephemeral-storage": "2Gi"}),
            BOX,
            {
                "requests": {"cpu": "1500m", "memory": "3Gi", "ephemeral-storage": "2Gi"},
                "limits": {"cpu": "1500m", "memory": "3Gi", "ephemeral-storage": "2Gi"},
            },
        ),
        # A request below the default limit leaves it.
        (
            asked(requests={"cpu": "500m", "ephemeral-storage": "100Mi"}),
            BOX,
            {
                "requests": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "100Mi"},
                "limits": DEFAULTS["limits"],
            },
        ),
        # A request equal to the default limit keeps the default's spelling.
        (
            asked(requests={"memory": "1024Mi"}),
            BOX,
            {
                "requests": {"cpu": "100m", "memory": "1024Mi", "ephemeral-storage": "64Mi"},
                "limits": DEFAULTS["limits"],
            },
        ),
        # An own limit wins over a request that would have raised the default.
        (
            asked(requests={"memory": "3Gi"}, limits={"memory": "2Gi"}),
            BOX,
            {
                "requests": {"cpu": "100m", "memory": "2Gi", "ephemeral-storage": "64Mi"},
                "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"},
            },
        ),
        # Limits are clamped to the maximum; requests never above their limit.
        (
            asked(requests={"cpu": "16", "memory": "64Gi"}, limits={"ephemeral-storage": "1Ti"}),
            BOX,
            {
                "requests": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "64Mi"},
                "limits": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "10Gi"},
            },
        ),
        (
            asked(limits={"cpu": "32", "memory": "8Gi"}),
            BOX,
            {
                "requests": DEFAULTS["requests"],
                "limits": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "1Gi"},
            },
        ),
        # A limit below a default request lowers the request.
        (
            asked(limits={"cpu": "50m", "memory": "128Mi"}),
            BOX,
            {
                "requests": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
                "limits": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
            },
        ),
        # Other resources pass as asked.
        (
            asked(requests={"nvidia.com/gpu": "1"}, limits={"nvidia.com/gpu": "2"}),
            BOX,
            {
                "requests": {**DEFAULTS["requests"], "nvidia.com/gpu": "1"},
                "limits": {**DEFAULTS["limits"], "nvidia.com/gpu": "2"},
            },
        ),
        (
            asked(limits={"nvidia.com/gpu": "1"}),
            BOX,
            {
                "requests": DEFAULTS["requests"],
                "limits": {**DEFAULTS["limits"], "nvidia.com/gpu": "1"},
            },
        ),
        (
            asked(requests={"example.com/dongle": "3"}),
            BOX,
            {
                "requests": {**DEFAULTS["requests"], "example.com/dongle": "3"},
                "limits": DEFAULTS["limits"],
            },
        ),
        # The box's own defaults and ceiling.
        (
            None,
            ResourceBox(
                requests={"cpu": "2", "memory": "1Gi", "ephemeral-storage": "1Gi"},
                limits={"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"},
                maximum={"cpu": "500m", "memory": "4Gi", "ephemeral-storage": "1500Mi"},
            ),
            {
                "requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
                "limits": {"cpu": "500m", "memory": "2Gi", "ephemeral-storage": "1500Mi"},
            },
        ),
        # A box without a default request for a kind raises no limit for it.
        (
            asked(limits={"memory": "2Gi"}),
            ResourceBox(requests={"cpu": "100m"}),
            {
                "requests": {"cpu": "100m"},
                "limits": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"},
            },
        ),
        (
            asked(limits={"nvidia.com/gpu": "8"}),
            ResourceBox(maximum={"cpu": "4", "nvidia.com/gpu": "1"}),
            {
                "requests": DEFAULTS["requests"],
                "limits": {**DEFAULTS["limits"], "nvidia.com/gpu": "1"},
            },
        ),
    ],
    ids=[
        "none",
        "empty",
        "own-limits",
        "request-raises-limit",
        "request-below-limit",
        "request-equal-limit",
        "own-limit-wins",
        "clamped",
        "limit-clamped",
        "limit-lowers-request",
        "gpu",
        "gpu-limit-only",
        "extended-request-only",
        "box",
        "box-without-requests",
        "box-ceiling-for-others",
    ],
)
def test_container_resources(
    resources: CheckResources | None, box: ResourceBox, expected: dict[str, Any]
) -> None:
    assert container_resources(resources, box) == expected


def test_container_resources_leave_the_box_as_it_was() -> None:
    box = ResourceBox()

    container_resources(asked(requests={"cpu": "8"}, limits={"memory": "16Gi"}), box)

    assert box == ResourceBox()


def test_every_container_gets_its_resources_from_the_box() -> None:
    check = ValidationCheck.model_validate(
        {
            "name": "load",
            "builtin": "loadAndPredict",
            "resources": {"requests": {"cpu": "2", "memory": "3Gi"}},
        }
    )
    box = ResourceBox(limits={"cpu": "1", "memory": "512Mi", "ephemeral-storage": "1Gi"})

    pod = pod_of(plan_of(check, FORMAT), settings=replace(SETTINGS, resources=box))

    assert containers(pod)["load"]["resources"] == {
        "requests": {"cpu": "2", "memory": "3Gi", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "2", "memory": "3Gi", "ephemeral-storage": "1Gi"},
    }
    small = {
        "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "1Gi"},
    }
    assert containers(pod)["format"]["resources"] == small
    assert fetch_container(pod)["resources"] == small


# --- the checks' containers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [None, ValidationPolicy(), ValidationPolicy(require_signature=False)],
    ids=["no-policy", "unset", "false"],
)
def test_the_format_check_requires_a_signature_only_when_the_policy_says_so(
    policy: ValidationPolicy | None,
) -> None:
    pod = pod_of(plan_of(FORMAT, policy=policy))

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
    signature = ValidationCheck(name="signature", builtin="format")

    pod = pod_of(plan_of(plain, FAIRNESS, signature, policy=POLICY))

    assert containers(pod)["predict"]["args"] == [
        "validate",
        "loadAndPredict",
        "--artifact",
        "/artifact/model.onnx",
        "--spec",
        "/meta/spec.json",
    ]
    assert containers(pod)["fairness"]["args"] == ["--group", "age", "--max-gap", "0.02"]
    assert containers(pod)["signature"]["args"][-1] == "--require-signature"


@pytest.mark.parametrize(
    ("calls", "latency", "flags"),
    [
        (1, None, ["--calls", "1"]),
        (None, 250.0, ["--max-latency-p95-ms", "250"]),
        (10000, 0.001, ["--calls", "10000", "--max-latency-p95-ms", "0.001"]),
        (None, None, []),
    ],
)
def test_load_and_predict_passes_its_calls_and_latency(
    calls: int | None, latency: float | None, flags: list[str]
) -> None:
    check = ValidationCheck(
        name="load", builtin="loadAndPredict", calls=calls, max_latency_p95_ms=latency
    )

    pod = pod_of(plan_of(check))

    assert containers(pod)["load"]["args"][6:] == flags


def test_calls_and_latency_are_for_load_and_predict_only() -> None:
    check = ValidationCheck(name="files", builtin="format", calls=3, max_latency_p95_ms=9.0)

    pod = pod_of(plan_of(check))

    assert containers(pod)["files"]["args"] == [
        "validate",
        "format",
        "--artifact",
        "/artifact/model.onnx",
        "--spec",
        "/meta/spec.json",
    ]


def test_the_metrics_check_has_no_container() -> None:
    pod = pod_of(plan_of(QUALITY, FORMAT, QUALITY.model_copy(update={"name": "q2"})))

    assert list(containers(pod)) == ["format"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == [
        "artifact",
        "meta",
        "scratch-0",
        "scratch-1",
    ]


def test_a_custom_check_without_command_or_args_keeps_its_image_s() -> None:
    check = ValidationCheck(name="smoke", image="registry.example/smoke:1")

    pod = pod_of(plan_of(check), view_of(spec_body(uri=PREFIX_URI)))

    assert containers(pod)["smoke"] == {
        "name": "smoke",
        "image": "registry.example/smoke:1",
        "imagePullPolicy": "Always",
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "MODELREGISTRY_ARTIFACT", "value": "/artifact"},
            {"name": "MODELREGISTRY_META", "value": "/meta"},
        ],
        "volumeMounts": check_mounts("scratch-1"),
        "resources": DEFAULTS,
        "securityContext": SECURITY,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("registry.example/smoke:1", "Always"),
        ("registry.example/smoke", "Always"),
        ("registry.example/smoke:sha256", "Always"),
        ("registry.example/smoke@sha256:" + "0" * 64, "IfNotPresent"),
        ("registry.example/smoke:1@sha256:" + "0" * 64, "IfNotPresent"),
    ],
)
def test_a_custom_image_is_pulled_every_time_unless_given_by_digest(
    image: str, policy: str
) -> None:
    check = ValidationCheck(name="smoke", image=image)

    for settings in (SETTINGS, replace(SETTINGS, pull_policy="Never")):
        assert (
            containers(pod_of(plan_of(check), settings=settings))["smoke"]["imagePullPolicy"]
            == policy
        )


@pytest.mark.parametrize("pull_policy", ["Always", "IfNotPresent", "Never"])
def test_the_registry_s_own_image_is_pulled_as_the_settings_say(pull_policy: str) -> None:
    pod = pod_of(plan_of(FORMAT), settings=replace(SETTINGS, pull_policy=pull_policy))

    assert fetch_container(pod)["imagePullPolicy"] == pull_policy
    assert containers(pod)["format"]["imagePullPolicy"] == pull_policy


def test_a_builtin_check_reads_a_prefix_artifact_from_its_directory() -> None:
    pod = pod_of(plan_of(FORMAT), view_of(spec_body(uri=PREFIX_URI), prefix_record()))

    assert containers(pod)["format"]["args"][2:4] == ["--artifact", "/artifact"]


# --- deadline, labels, names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "deadline"),
    [
        (plan_of(FORMAT), 600),
        (plan_of(FORMAT, deadline=1), 1),
        (plan_of(FORMAT, deadline=86400), 86400),
        (Plan(), 600),
    ],
)
def test_the_deadline_is_the_validation_s_or_ten_minutes(plan: Plan, deadline: int) -> None:
    assert pod_of(plan)["spec"]["activeDeadlineSeconds"] == deadline


def test_the_pod_is_labelled_and_owned_by_its_version() -> None:
    long = "fraud-detector-" + "x" * 60 + ".v3"
    view = view_of(name=long, namespace="risk-prod")

    pod = pod_of(plan_of(FORMAT), view, run=run_of(11))

    digest = hashlib.sha256(long.encode()).hexdigest()[:10]
    assert pod["metadata"] == {
        "generateName": f"{long}-validation-11-",
        "namespace": "risk-prod",
        "labels": {
            "modelregistry.io/model-version": long[:52] + "-" + digest,
            "modelregistry.io/model-version-uid": UID,
            "modelregistry.io/validation-run": "11",
            "app.kubernetes.io/managed-by": "modelregistry-operator",
            "app.kubernetes.io/component": "validation",
        },
        "annotations": {
            "modelregistry.io/pod-spec-digest": fingerprint(pod["spec"]),
            "sidecar.istio.io/inject": "false",
            "linkerd.io/inject": "disabled",
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
    assert "name" not in pod["metadata"]


@pytest.mark.parametrize(
    ("version", "run", "prefix"),
    [
        ("fraud-v3", 1, "fraud-v3-validation-1-"),
        ("churn.2030-01", 12, "churn.2030-01-validation-12-"),
        ("fraud.v3-a", 2, "fraud.v3-a-validation-2-"),
        # A long name is cut so that the name the API server completes fits in 253.
        ("m" * 253, 7, "m" * (248 - len("-validation-7-")) + "-validation-7-"),
        ("a" * 234 + "bc", 1, "a" * 234 + "-validation-1-"),
        ("a" * 233 + "b", 10, "a" * 233 + "-validation-10-"),
        ("a" * 232 + "bc", 10, "a" * 232 + "b-validation-10-"),
        # A cut name never ends in '.' or '-' before the suffix.
        ("a" * 233 + "." + "b" * 13, 1, "a" * 233 + "-validation-1-"),
        ("a" * 233 + "-" + "z" * 10, 1, "a" * 233 + "-validation-1-"),
        ("a" * 231 + "-.-" + "z" * 10, 1, "a" * 231 + "-validation-1-"),
        ("a" * 233 + "b.c", 1, "a" * 233 + "b-validation-1-"),
    ],
)
def test_the_pod_s_name_is_generated_from_the_version_and_the_run(
    version: str, run: int, prefix: str
) -> None:
    assert generate_name(version, run) == prefix
    assert len(prefix) + 5 <= 253


@pytest.mark.parametrize("length", [1, 200, 233, 234, 235, 253])
@pytest.mark.parametrize("run", [1, 10, 12345])
def test_a_generated_name_is_a_valid_pod_name_whatever_the_length(length: int, run: int) -> None:
    version = ("ab.c-" * 60)[: length - 1] + "z"

    generated = generate_name(version, run) + "x7k2p"

    assert len(generated) <= 253
    assert re.fullmatch(DNS_SUBDOMAIN_PATTERN, generated)
    assert generated.startswith(version[: len(generated) - 5 - len(f"-validation-{run}-")])


def test_two_long_names_sharing_a_prefix_share_only_the_generated_prefix() -> None:
    """The API server appends 5 random characters (and retries on a clash), so each run gets
    a Pod of its own; what the operator sends is only the prefix."""
    stem = "m" * 240

    one, two = generate_name(stem + "-one", 1), generate_name(stem + "-two", 1)

    assert one == two == "m" * 234 + "-validation-1-"
    pod = pod_of(plan_of(FORMAT), view_of(name=stem + "-one"), run=run_of(1))
    assert pod["metadata"]["generateName"] == one


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


# --- a compare check: the data set and the compared version, fetched and mounted ---------------

DATASET_URI = "s3://models/holdout/october.csv"
HOLDER_URI = "s3://models/fraud/v2/mlflow/"
COMPARE = ValidationCheck.model_validate(
    {
        "name": "ab",
        "builtin": "compare",
        "metric": "auc",
        "dataset": {"uri": DATASET_URI, "digest": DIGEST_C, "target": "churned"},
    }
)
HOLDER_RECORD = VerifiedArtifact(
    uri=HOLDER_URI,
    digest=DIGEST_B,
    size=5 * 2**20,
    file_count=3,
    files=[
        VerifiedFile(path="MLmodel", digest=DIGEST_A, size=10, version_id="m1"),
        VerifiedFile(path="conda.yaml", digest=DIGEST_A, size=20),
        VerifiedFile(path="model.pkl", digest=DIGEST_C, size=5 * 2**20 - 30, version_id="p2"),
    ],
    verified_at=NOW_TEXT,
)
HOLDER = Compared(
    "fraud-v2",
    2,
    HOLDER_RECORD,
    "mlflow",
    StorageSettings(endpoint="http://minio.archive:9000", region="eu-north-1"),
)
READ = {DIGEST_C: DatasetRecord(DATASET_URI, DIGEST_C, 3 * 2**20, "d7")}
COMPARE_ARGS = [
    "validate",
    "compare",
    "--artifact",
    "/artifact/model.onnx",
    "--spec",
    "/meta/spec.json",
    "--dataset",
    f"/dataset/{HEX_C}/october.csv",
    "--dataset-format",
    "csv",
    "--dataset-digest",
    DIGEST_C,
    "--target",
    "churned",
    "--metric",
    "auc",
]
HOLDER_ARGS = [
    "--against",
    "/against/fraud-v2",
    "--against-name",
    "fraud-v2",
    "--against-version",
    "2",
    "--against-digest",
    DIGEST_B,
    "--against-format",
    "mlflow",
]


def compare_plan(*checks: ValidationCheck, holder: Compared | None = HOLDER) -> Plan:
    return Plan(checks=checks or (FORMAT, COMPARE), against={"holder": holder})


def test_the_whole_pod_of_a_run_with_a_compare_check() -> None:
    view = view_of(spec_body(storage=STORAGE))
    plan = compare_plan()
    store = {
        "endpoint": "https://s3.eu-west-1.amazonaws.com",
        "region": "eu-west-1",
        "addressingStyle": "path",
    }
    plan_json = {
        "uri": URI,
        "digest": DIGEST_A,
        "versionId": "v7",
        "size": 42,
        "fileCount": 1,
        "files": [],
        **store,
        "datasetDir": "/dataset",
        "datasets": [
            {
                "uri": DATASET_URI,
                "digest": DIGEST_C,
                "versionId": "d7",
                "size": 3 * 2**20,
                "fileCount": 1,
                "files": [],
                **store,
            }
        ],
        "againstDir": "/against",
        "against": [
            {
                "name": "fraud-v2",
                "uri": HOLDER_URI,
                "digest": DIGEST_B,
                "versionId": None,
                "size": 5 * 2**20,
                "fileCount": 3,
                "files": [
                    {"path": "MLmodel", "versionId": "m1"},
                    {"path": "conda.yaml", "versionId": None},
                    {"path": "model.pkl", "versionId": "p2"},
                ],
                "endpoint": "http://minio.archive:9000",
                "region": "eu-north-1",
                "addressingStyle": "virtual",
            }
        ],
    }

    pod = build_pod(view, UID, run_of(), plan, SETTINGS, READ)

    spec = pod["spec"]
    assert json.loads(env_of(fetch_container(pod))["MODELREGISTRY_FETCH_PLAN"]) == plan_json
    assert fetch_container(pod)["args"] == ["fetch", "--dest", "/artifact", "--meta", "/meta"]
    assert fetch_container(pod)["volumeMounts"] == [
        {"name": "artifact", "mountPath": "/artifact"},
        {"name": "meta", "mountPath": "/meta"},
        {"name": "dataset", "mountPath": "/dataset"},
        {"name": "against", "mountPath": "/against"},
        {"name": "scratch-0", "mountPath": "/tmp"},
    ]
    assert fetch_container(pod)["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert spec["containers"] == [
        {
            "name": "format",
            "image": OWN_IMAGE,
            "imagePullPolicy": "Always",
            "args": ["validate", "format", *COMPARE_ARGS[2:6]],
            "env": [{"name": "HOME", "value": "/tmp"}],
            "volumeMounts": check_mounts("scratch-1"),
            "resources": DEFAULTS,
            "securityContext": SECURITY,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        },
        {
            "name": "ab",
            "image": OWN_IMAGE,
            "imagePullPolicy": "Always",
            "args": [*COMPARE_ARGS, *HOLDER_ARGS],
            "env": [{"name": "HOME", "value": "/tmp"}],
            "volumeMounts": [
                {"name": "artifact", "mountPath": "/artifact", "readOnly": True},
                {"name": "meta", "mountPath": "/meta", "readOnly": True},
                {"name": "dataset", "mountPath": "/dataset", "readOnly": True},
                {"name": "against", "mountPath": "/against", "readOnly": True},
                {"name": "scratch-2", "mountPath": "/tmp"},
            ],
            "resources": DEFAULTS,
            "securityContext": SECURITY,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        },
    ]
    # 3 MiB + a block for the file and one more + 1 MiB; 5 MiB + 4 blocks + 1 MiB.
    assert spec["volumes"] == [
        {"name": "artifact", "emptyDir": {"sizeLimit": "2Mi"}},
        {"name": "meta", "emptyDir": {"sizeLimit": "16Mi"}},
        {"name": "dataset", "emptyDir": {"sizeLimit": "5Mi"}},
        {"name": "against", "emptyDir": {"sizeLimit": "7Mi"}},
        {"name": "scratch-0", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "scratch-1", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "scratch-2", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    assert pod["metadata"]["annotations"]["modelregistry.io/pod-spec-digest"] == fingerprint(spec)


def test_only_the_compare_check_sees_the_data_set_and_the_other_version() -> None:
    pod = build_pod(
        view_of(spec_body(storage=STORAGE)),
        UID,
        run_of(),
        compare_plan(FORMAT, COMPARE, FAIRNESS),
        SETTINGS,
        READ,
    )

    mounted = {
        c["name"]: [m["name"] for m in c["volumeMounts"] if m["name"] in ("dataset", "against")]
        for c in pod["spec"]["containers"]
    }
    assert mounted == {"format": [], "ab": ["dataset", "against"], "fairness": []}
    for check in pod["spec"]["containers"]:
        assert "envFrom" not in check
        assert "MODELREGISTRY_FETCH_PLAN" not in env_of(check)
        assert all(m.get("readOnly") for m in check["volumeMounts"] if m["mountPath"] != "/tmp")


def test_with_no_other_version_the_candidate_is_scored_alone() -> None:
    pod = build_pod(view_of(), UID, run_of(), compare_plan(COMPARE, holder=None), SETTINGS, READ)

    (check,) = pod["spec"]["containers"]
    assert check["args"] == COMPARE_ARGS
    assert [m["name"] for m in check["volumeMounts"]] == [
        "artifact",
        "meta",
        "dataset",
        "scratch-1",
    ]
    assert [v["name"] for v in pod["spec"]["volumes"]] == [
        "artifact",
        "meta",
        "dataset",
        "scratch-0",
        "scratch-1",
    ]
    planned = fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"]
    assert (planned["against"], len(planned["datasets"])) == ([], 1)
    assert [m["name"] for m in fetch_container(pod)["volumeMounts"]] == [
        "artifact",
        "meta",
        "dataset",
        "scratch-0",
    ]


def test_a_target_never_resolved_is_no_other_version() -> None:
    plan = Plan(checks=(COMPARE,))

    (check,) = build_pod(view_of(), UID, run_of(), plan, SETTINGS, READ)["spec"]["containers"]

    assert check["args"] == COMPARE_ARGS


def test_two_compare_checks_share_a_data_set_and_a_version_fetched_once() -> None:
    f1 = COMPARE.model_copy(update={"name": "ab-f1", "metric": "f1"})
    other = COMPARE.model_copy(
        update={
            "name": "ab-champion",
            "against": "champion",
            "dataset": COMPARE.dataset.model_copy(  # type: ignore[union-attr]
                update={
                    "uri": "s3://models/holdout/nov.parquet",
                    "digest": DIGEST_D,
                    "features": ["a", "b"],
                }
            ),
        }
    )
    champion = Compared("fraud-v1", 1, record(PREFIX_URI.replace("v1", "v0"), DIGEST_D, size=10))
    plan = Plan(checks=(COMPARE, f1, other), against={"holder": HOLDER, "champion": champion})
    read = {**READ, DIGEST_D: DatasetRecord("s3://models/holdout/nov.parquet", DIGEST_D, 10)}

    pod = build_pod(view_of(), UID, run_of(), plan, SETTINGS, read)

    planned = fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"]
    assert [d["digest"] for d in planned["datasets"]] == [DIGEST_C, DIGEST_D]
    assert [a["name"] for a in planned["against"]] == ["fraud-v2", "fraud-v1"]
    assert planned["against"][1]["endpoint"] == "http://minio.modelregistry-system:9000"
    args = containers(pod)["ab-champion"]["args"]
    assert args[args.index("--dataset") :] == [
        "--dataset",
        f"/dataset/{'d' * 64}/nov.parquet",
        "--dataset-format",
        "parquet",
        "--dataset-digest",
        DIGEST_D,
        "--target",
        "churned",
        "--feature",
        "a",
        "--feature",
        "b",
        "--metric",
        "auc",
        "--against",
        "/against/fraud-v1",
        "--against-name",
        "fraud-v1",
        "--against-version",
        "1",
        "--against-digest",
        DIGEST_D,
    ]
    volumes = {v["name"]: v["emptyDir"]["sizeLimit"] for v in pod["spec"]["volumes"]}
    # 3 MiB and 10 bytes, each with two blocks and 1 MiB; 5 MiB + 4 blocks + 1 MiB and 10
    # bytes + 2 blocks + 1 MiB.
    assert (volumes["dataset"], volumes["against"]) == ("6Mi", "8Mi")


def test_a_pod_needs_the_data_set_as_read() -> None:
    with pytest.raises(ValueError, match=r"^a validation Pod needs check 'ab''s data set as read"):
        build_pod(view_of(), UID, run_of(), compare_plan(), SETTINGS, {})


def test_without_a_compare_check_nothing_else_is_fetched() -> None:
    plan = Plan(checks=(FORMAT, LOAD), against={"holder": HOLDER})

    pod = build_pod(view_of(), UID, run_of(), plan, SETTINGS, READ)

    assert "datasets" not in fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"]
    assert [v["name"] for v in pod["spec"]["volumes"]][:3] == ["artifact", "meta", "scratch-0"]


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        (HOLDER_URI, "/against/fraud-v2"),
        ("s3://models/", "/against/fraud-v2"),
        ("s3://models", "/against/fraud-v2"),
        ("s3://models/fraud/v2/model.onnx", "/against/fraud-v2/model.onnx"),
        ("s3://models/model.onnx", "/against/fraud-v2/model.onnx"),
    ],
)
def test_where_the_other_version_lies_in_the_pod(uri: str, path: str) -> None:
    compared = Compared("fraud-v2", 2, record(uri))

    assert against_path(compared) == path


def test_where_a_data_set_lies_in_the_pod() -> None:
    record_ = DatasetRecord("s3://b/a/b/holdout.csv", DIGEST_A, 1)

    assert dataset_path(record_) == f"/dataset/{'a' * 64}/holdout.csv"
    assert (validationpod.DATASET_DIR, validationpod.AGAINST_DIR) == ("/dataset", "/against")


def test_a_data_set_volume_holds_the_size_read_with_a_block_for_its_file() -> None:
    # 1 MiB less two blocks: with its file's block, one more and 1 MiB, exactly 2 MiB.
    read = {DIGEST_C: DatasetRecord(DATASET_URI, DIGEST_C, 2**20 - 2 * 4096)}

    pod = build_pod(view_of(), UID, run_of(), compare_plan(COMPARE, holder=None), SETTINGS, read)

    assert pod["spec"]["volumes"][2] == {"name": "dataset", "emptyDir": {"sizeLimit": "2Mi"}}
    bigger = {DIGEST_C: DatasetRecord(DATASET_URI, DIGEST_C, 2**20 - 2 * 4096 + 1)}
    pod = build_pod(view_of(), UID, run_of(), compare_plan(COMPARE, holder=None), SETTINGS, bigger)
    assert pod["spec"]["volumes"][2] == {"name": "dataset", "emptyDir": {"sizeLimit": "3Mi"}}


def test_a_check_of_another_kind_with_compare_s_fields_compares_nothing() -> None:
    """The CRD refuses dataset and metric on another check; bypassed, they do nothing."""
    odd = FORMAT.model_copy(update={"metric": "auc", "dataset": COMPARE.dataset})
    plan = Plan(checks=(odd, COMPARE), against={"holder": HOLDER})

    pod = build_pod(view_of(), UID, run_of(), plan, SETTINGS, READ)

    assert containers(pod)["format"]["args"] == ["validate", "format", *COMPARE_ARGS[2:6]]
    assert [m["name"] for m in containers(pod)["format"]["volumeMounts"]] == [
        "artifact",
        "meta",
        "scratch-1",
    ]
    planned = fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"]
    assert (len(planned["datasets"]), len(planned["against"])) == (1, 1)


def test_only_the_versions_compare_checks_name_are_fetched() -> None:
    champion = COMPARE.model_copy(update={"against": "champion"})
    plan = Plan(checks=(FORMAT, champion), against={"holder": HOLDER, "champion": None})

    pod = build_pod(view_of(), UID, run_of(), plan, SETTINGS, READ)

    assert fetch_env(pod)["MODELREGISTRY_FETCH_PLAN"]["against"] == []
    assert "against" not in [v["name"] for v in pod["spec"]["volumes"]]
