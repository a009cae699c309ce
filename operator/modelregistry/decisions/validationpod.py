"""The validation Pod of one run, built from the version, its plan and the settings.

Locked down as DESIGN.md rule 7 says, so it is admitted in a namespace that
enforces the `restricted` Pod Security profile: non-root, read-only root
filesystem, no privilege escalation, every capability dropped, seccomp
RuntimeDefault, no service account token, no service links. The init
container (`modelregistry fetch`) is the only one that sees storage
credentials; it fetches the pinned bytes into an emptyDir and checks their
digest. Each check is a container that mounts the artifact read-only.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from typing import Any

from modelregistry.api.meta import GROUP, VERSION
from modelregistry.api.modelversion import ValidationCheck, ValidationStatus
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.validation import FETCH_CONTAINER, Plan

ARTIFACT_DIR = "/artifact"
# An emptyDir of the Pod's own (the root filesystem is read-only), also HOME.
SCRATCH_DIR = "/tmp"  # noqa: S108
META_DIR = "/meta"
LABEL_VERSION = f"{GROUP}/model-version"
LABEL_VERSION_UID = f"{GROUP}/model-version-uid"
LABEL_RUN = f"{GROUP}/validation-run"
MANAGED_BY = "modelregistry-operator"
DEFAULT_DEADLINE_SECONDS = 600
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "1Gi"},
}
# The user the containers run as when an image names none (and a check of the
# registry's own image); numeric, so the kubelet can verify runAsNonRoot.
RUN_AS_USER = 65532
PLAN_VARIABLE = "MODELREGISTRY_FETCH_PLAN"
SPEC_VARIABLE = "MODELREGISTRY_SPEC"


@dataclass(frozen=True)
class PodSettings:
    image: str  # the registry's own image: the fetch step and the built-in checks
    pull_policy: str = "IfNotPresent"
    endpoint: str | None = None  # the S3 endpoint as Pods reach it
    region: str | None = None
    addressing_style: str | None = None
    # The Secret (in the version's namespace) the fetch step uses when the
    # artifact names none: the operator's own credentials never go to a Pod.
    default_secret: str | None = None


def label_value(text: str) -> str:
    """A label value (at most 63 characters) that stays unique for long names."""
    if len(text) <= 63:
        return text
    return text[:52] + "-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def artifact_path(uri: str) -> str:
    """Where the artifact lies in the Pod: the directory of a prefix, or the object's file."""
    key = uri.split("/", 3)[3] if uri.count("/") >= 3 else ""
    if key.endswith("/") or not key:
        return ARTIFACT_DIR
    return posixpath.join(ARTIFACT_DIR, posixpath.basename(key))


def fetch_plan(view: VersionView, settings: PodSettings) -> dict[str, Any]:
    verified = view.status.artifact
    if verified is None:
        raise ValueError("a validation Pod needs the verified artifact in status")
    storage = view.spec.artifact.storage
    return {
        "uri": verified.uri,
        "digest": verified.digest,
        "versionId": verified.version_id,
        "files": [{"path": f.path, "versionId": f.version_id} for f in verified.files],
        "endpoint": (storage.endpoint if storage and storage.endpoint else settings.endpoint),
        "region": (storage.region if storage and storage.region else settings.region),
        "addressingStyle": (
            storage.addressing_style
            if storage and storage.addressing_style
            else settings.addressing_style
        ),
    }


def _security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _check_container(
    check: ValidationCheck, view: VersionView, plan: Plan, settings: PodSettings
) -> dict[str, Any]:
    mounts = [
        {"name": "artifact", "mountPath": ARTIFACT_DIR, "readOnly": True},
        {"name": "meta", "mountPath": META_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": SCRATCH_DIR},
    ]
    resources = (
        check.resources.model_dump(mode="json", exclude_none=True)
        if check.resources
        else DEFAULT_RESOURCES
    )
    container: dict[str, Any] = {
        "name": check.name,
        "volumeMounts": mounts,
        "resources": resources,
        "securityContext": _security(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "env": [{"name": "HOME", "value": SCRATCH_DIR}],
    }
    if check.builtin is not None:
        args = [
            "validate",
            check.builtin,
            "--artifact",
            artifact_path(view.spec.artifact.uri),
            "--spec",
            f"{META_DIR}/spec.json",
        ]
        if check.builtin == "format" and plan.policy and plan.policy.require_signature:
            args.append("--require-signature")
        if check.builtin == "loadAndPredict":
            if check.calls is not None:
                args += ["--calls", str(check.calls)]
            if check.max_latency_p95_ms is not None:
                args += ["--max-latency-p95-ms", f"{check.max_latency_p95_ms:g}"]
        container.update(image=settings.image, imagePullPolicy=settings.pull_policy, args=args)
        return container
    container["image"] = check.image
    if check.command:
        container["command"] = list(check.command)
    if check.args:
        container["args"] = list(check.args)
    container["env"] += [{"name": e.name, "value": e.value} for e in check.env]
    container["env"] += [
        {"name": "MODELREGISTRY_ARTIFACT", "value": artifact_path(view.spec.artifact.uri)},
        {"name": "MODELREGISTRY_META", "value": META_DIR},
    ]
    return container


def build_pod(
    view: VersionView,
    uid: str,
    run: ValidationStatus,
    plan: Plan,
    settings: PodSettings,
) -> dict[str, Any]:
    """The Pod of `run`, owned by the ModelVersion (garbage-collected with it)."""
    if run.pod_name is None:
        raise ValueError("the run has no Pod")
    spec_json = json.dumps(
        view.spec.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True
    )
    storage = view.spec.artifact.storage
    secret = (
        storage.secret_ref.name
        if storage is not None and storage.secret_ref is not None
        else settings.default_secret
    )
    fetch: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.pull_policy,
        "args": ["fetch", "--dest", ARTIFACT_DIR, "--meta", META_DIR],
        "env": [
            {"name": PLAN_VARIABLE, "value": json.dumps(fetch_plan(view, settings))},
            {"name": SPEC_VARIABLE, "value": spec_json},
            {"name": "HOME", "value": SCRATCH_DIR},
        ],
        "volumeMounts": [
            {"name": "artifact", "mountPath": ARTIFACT_DIR},
            {"name": "meta", "mountPath": META_DIR},
            {"name": "tmp", "mountPath": SCRATCH_DIR},
        ],
        "resources": DEFAULT_RESOURCES,
        "securityContext": _security(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if secret is not None:
        fetch["envFrom"] = [{"secretRef": {"name": secret}}]
    deadline = (
        plan.validation.deadline_seconds
        if plan.validation and plan.validation.deadline_seconds
        else DEFAULT_DEADLINE_SECONDS
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": run.pod_name,
            "namespace": view.namespace,
            "labels": {
                LABEL_VERSION: label_value(view.name),
                LABEL_VERSION_UID: uid,
                LABEL_RUN: str(run.run),
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "app.kubernetes.io/component": "validation",
            },
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "ModelVersion",
                    "name": view.name,
                    "uid": uid,
                    "controller": True,
                    # Blocking would need update rights on modelversions/finalizers.
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "runAsGroup": RUN_AS_USER,
                "fsGroup": RUN_AS_USER,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [fetch],
            "containers": [_check_container(c, view, plan, settings) for c in plan.pod_checks],
            "volumes": [
                {"name": "artifact", "emptyDir": {}},
                {"name": "meta", "emptyDir": {"sizeLimit": "16Mi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
        },
    }
