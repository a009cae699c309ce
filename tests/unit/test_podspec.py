"""The fingerprint of a validation Pod's spec: the same for the Pod as built and as the API
server stores it, different for every change to what the Pod runs or can reach."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from modelregistry.api.model import ValidationPolicy
from modelregistry.api.modelversion import ModelVersionSpec, ModelVersionStatus, ValidationStatus
from modelregistry.decisions.passdata import VersionView
from modelregistry.decisions.podspec import (
    CONTAINER_FIELDS,
    CONTAINER_LISTS,
    POD_FIELDS,
    differences,
    fingerprint,
    projection,
    pruned,
)
from modelregistry.decisions.validationpod import (
    SPEC_DIGEST_ANNOTATION,
    PodSettings,
    ResourceBox,
    build_pod,
)

from .builders import NOW, URI, record
from .validationbuilders import OWN_IMAGE, VERSION_UID, plan_of

CUSTOM = {
    "name": "fairness",
    "image": "registry.example/fairness:1",
    "env": [{"name": "EMPTY"}, {"name": "LEVEL", "value": "debug"}],
    "resources": {
        "requests": {"cpu": "0.5", "memory": "1000M"},
        "limits": {"cpu": "2000m"},
    },
}
# The artifact volume's sizeLimit comes to exactly 1024Mi, which the API server stores as 1Gi.
GIB_ARTIFACT = 1023 * 2**20 - 2 * 4096


def built_pod(size: int = GIB_ARTIFACT, scratch: str = "0.5Gi") -> dict[str, Any]:
    spec = ModelVersionSpec.model_validate(
        {
            "modelRef": {"name": "fraud"},
            "artifact": {
                "uri": URI,
                "digest": "sha256:" + "a" * 64,
                "storage": {"secretRef": {"name": "s3-credentials"}},
            },
            "validation": {"checks": [{"name": "format", "builtin": "format"}, CUSTOM]},
        }
    )
    assert spec.validation is not None
    view = VersionView(
        spec,
        ModelVersionStatus(artifact=record(size=size, version_id="v7")),
        1,
        NOW,
        "team-a",
        "fraud-v3",
        VERSION_UID,
    )
    plan = plan_of(*spec.validation.checks, policy=ValidationPolicy(require_signature=True))
    settings = PodSettings(image=OWN_IMAGE, resources=ResourceBox(scratch=scratch))
    return build_pod(view, VERSION_UID, ValidationStatus(run=1), plan, settings)


# Quantities as kube-apiserver 1.35.4 wrote them back for the Pod above: in canonical form.
CANONICAL = {"1024Mi": "1Gi", "0.5Gi": "512Mi", "2000m": "2", "0.5": "500m", "1000M": "1G"}
DEFAULT_TOLERATIONS = [
    {
        "effect": "NoExecute",
        "key": f"node.kubernetes.io/{key}",
        "operator": "Exists",
        "tolerationSeconds": 300,
    }
    for key in ("not-ready", "unreachable")
]


def as_stored(pod: dict[str, Any]) -> dict[str, Any]:
    """The Pod as kube-apiserver 1.35.4 stores it (observed on the local control plane):
    defaults and admission plugins' additions, quantities in canonical form, `value: ""`
    omitted, a status."""
    stored = copy.deepcopy(pod)
    stored["metadata"].update(
        name=stored["metadata"]["generateName"] + "p8xsl",
        uid="99a78084-21bb-4bcd-98c0-36a42a23308e",
        resourceVersion="215",
        generation=1,
        creationTimestamp="2030-01-02T03:04:05Z",
    )
    spec = stored["spec"]
    spec.update(
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
        terminationGracePeriodSeconds=30,
        priority=0,
        preemptionPolicy="PreemptLowerPriority",
        serviceAccount=spec["serviceAccountName"],
        tolerations=DEFAULT_TOLERATIONS,
    )
    for container in (*spec["initContainers"], *spec["containers"]):
        container["terminationMessagePath"] = "/dev/termination-log"
        container["env"] = [{k: v for k, v in e.items() if v != ""} for e in container["env"]]
        for amounts in container["resources"].values():
            amounts.update({k: CANONICAL.get(v, v) for k, v in amounts.items()})
    for volume in spec["volumes"]:
        limit = volume["emptyDir"]["sizeLimit"]
        volume["emptyDir"]["sizeLimit"] = CANONICAL.get(limit, limit)
    stored["status"] = {"phase": "Pending", "qosClass": "Burstable"}
    return stored


# --- the Pod as built and as stored -----------------------------------------------------------


def test_the_stored_pod_differs_from_the_built_one_where_the_api_server_rewrites() -> None:
    pod = built_pod()
    stored = as_stored(pod)

    assert [v["emptyDir"]["sizeLimit"] for v in pod["spec"]["volumes"]] == [
        "1024Mi",
        "16Mi",
        "0.5Gi",
        "0.5Gi",
        "0.5Gi",
    ]
    assert [v["emptyDir"]["sizeLimit"] for v in stored["spec"]["volumes"]] == [
        "1Gi",
        "16Mi",
        "512Mi",
        "512Mi",
        "512Mi",
    ]
    assert stored["spec"]["containers"][1]["env"][1] == {"name": "EMPTY"}
    assert stored["spec"]["containers"][1]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1G", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "1Gi"},
    }
    assert stored["spec"]["enableServiceLinks"] is False


def test_the_pod_as_stored_has_the_fingerprint_of_the_pod_as_built() -> None:
    pod = built_pod()

    stored = as_stored(pod)

    assert fingerprint(stored["spec"]) == fingerprint(pod["spec"])
    assert stored["metadata"]["annotations"][SPEC_DIGEST_ANNOTATION] == fingerprint(pod["spec"])
    assert differences(pod["spec"], stored["spec"]) == []


@pytest.mark.parametrize(
    ("size", "scratch"), [(42, "256Mi"), (2**30, "1Gi"), (GIB_ARTIFACT, "1024Mi"), (0, "0.25Gi")]
)
def test_any_size_limit_survives_the_api_server_s_canonical_form(size: int, scratch: str) -> None:
    pod = built_pod(size, scratch)
    stored = as_stored(pod)
    for volume in stored["spec"]["volumes"]:
        volume["emptyDir"]["sizeLimit"] = {"0.25Gi": "256Mi", "1024Mi": "1Gi"}.get(
            volume["emptyDir"]["sizeLimit"], volume["emptyDir"]["sizeLimit"]
        )

    assert fingerprint(stored["spec"]) == fingerprint(pod["spec"])


def test_the_order_of_keys_does_not_matter() -> None:
    spec = built_pod()["spec"]
    reordered = json.loads(json.dumps(spec, sort_keys=True))
    reordered = {k: reordered[k] for k in reversed(list(reordered))}

    assert fingerprint(reordered) == fingerprint(spec)


def test_the_fingerprint_is_the_sha256_of_the_projection_s_canonical_json() -> None:
    spec = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i", "tty": None}]}
    text = b'{"containers":[{"image":"i","name":"c"}],"restartPolicy":"Never"}'

    assert fingerprint(spec) == "sha256:" + hashlib.sha256(text).hexdigest()


# --- every field the projection covers --------------------------------------------------------

Change = Callable[[dict[str, Any]], object]


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in (*spec["initContainers"], *spec["containers"]) if c["name"] == name
    )
    return found


CHANGES: list[tuple[str, Change, list[str]]] = [
    (
        "image",
        lambda s: container(s, "format").update(image="evil.example/format:1"),
        ["containers[format].image"],
    ),
    (
        "pull-policy",
        lambda s: container(s, "fairness").update(imagePullPolicy="Never"),
        ["containers[fairness].imagePullPolicy"],
    ),
    (
        "command",
        lambda s: container(s, "format").update(command=["sh", "-c", "exit 0"]),
        ["containers[format].command"],
    ),
    (
        "args",
        lambda s: container(s, "fetch").update(args=["fetch", "--dest", "/elsewhere"]),
        ["initContainers[fetch].args"],
    ),
    (
        "working-dir",
        lambda s: container(s, "format").update(workingDir="/artifact"),
        ["containers[format].workingDir"],
    ),
    (
        "env-added",
        lambda s: container(s, "fairness")["env"].append(
            {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::1:role/x"}
        ),
        ["containers[fairness].env"],
    ),
    (
        "env-changed",
        lambda s: container(s, "fairness")["env"][2].update(value="trace"),
        ["containers[fairness].env"],
    ),
    (
        "env-from",
        lambda s: container(s, "format").update(envFrom=[{"secretRef": {"name": "s3"}}]),
        ["containers[format].envFrom"],
    ),
    (
        "mount-added",
        lambda s: container(s, "format")["volumeMounts"].append(
            {"name": "token", "mountPath": "/var/run/secrets/eks.amazonaws.com"}
        ),
        ["containers[format].volumeMounts"],
    ),
    (
        "mount-writable",
        lambda s: container(s, "format")["volumeMounts"][0].update(readOnly=False),
        ["containers[format].volumeMounts"],
    ),
    (
        "devices",
        lambda s: container(s, "format").update(
            volumeDevices=[{"name": "disk", "devicePath": "/dev/xvda"}]
        ),
        ["containers[format].volumeDevices"],
    ),
    (
        "privileged",
        lambda s: container(s, "fairness")["securityContext"].update(privileged=True),
        ["containers[fairness].securityContext"],
    ),
    (
        "ports",
        lambda s: container(s, "fairness").update(ports=[{"containerPort": 8080}]),
        ["containers[fairness].ports"],
    ),
    (
        "stdin",
        lambda s: container(s, "fairness").update(stdin=True),
        ["containers[fairness].stdin"],
    ),
    ("tty", lambda s: container(s, "fairness").update(tty=True), ["containers[fairness].tty"]),
    (
        "sidecar",
        lambda s: s["containers"].append({"name": "istio-proxy", "image": "istio/proxyv2:1"}),
        ["containers[istio-proxy] added"],
    ),
    (
        "container-removed",
        lambda s: s["containers"].pop(),
        ["containers[fairness] removed"],
    ),
    (
        "init-added",
        lambda s: s["initContainers"].insert(0, {"name": "istio-init", "image": "istio:1"}),
        ["initContainers[istio-init] added"],
    ),
    (
        "ephemeral",
        lambda s: s.update(ephemeralContainers=[{"name": "debugger", "image": "busybox"}]),
        ["ephemeralContainers[debugger] added"],
    ),
    (
        "unnamed",
        lambda s: s["containers"].append({"image": "busybox"}),
        ["containers[?] added"],
    ),
    (
        "volume-added",
        lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
        ["volumes"],
    ),
    (
        "volume-size",
        lambda s: s["volumes"][0]["emptyDir"].update(sizeLimit="100Gi"),
        ["volumes"],
    ),
    (
        "volume-medium",
        lambda s: s["volumes"][2]["emptyDir"].update(medium="Memory"),
        ["volumes"],
    ),
    (
        "volume-size-unreadable",
        lambda s: s["volumes"][1]["emptyDir"].update(sizeLimit="lots"),
        ["volumes"],
    ),
    (
        "service-account",
        lambda s: s.update(serviceAccountName="default"),
        ["serviceAccountName"],
    ),
    (
        "token",
        lambda s: s.update(automountServiceAccountToken=True),
        ["automountServiceAccountToken"],
    ),
    ("runtime-class", lambda s: s.update(runtimeClassName="runc"), ["runtimeClassName"]),
    ("deadline", lambda s: s.update(activeDeadlineSeconds=86400), ["activeDeadlineSeconds"]),
    ("restart", lambda s: s.update(restartPolicy="OnFailure"), ["restartPolicy"]),
    ("service-links", lambda s: s.update(enableServiceLinks=True), ["enableServiceLinks"]),
    ("host-network", lambda s: s.update(hostNetwork=True), ["hostNetwork"]),
    ("host-pid", lambda s: s.update(hostPID=True), ["hostPID"]),
    ("host-ipc", lambda s: s.update(hostIPC=True), ["hostIPC"]),
    ("host-users", lambda s: s.update(hostUsers=True), ["hostUsers"]),
    ("share-pids", lambda s: s.update(shareProcessNamespace=True), ["shareProcessNamespace"]),
    (
        "pod-security",
        lambda s: s["securityContext"].update(runAsUser=0),
        ["securityContext"],
    ),
    (
        "several",
        lambda s: (
            s.update(serviceAccountName="default"),
            container(s, "fetch").update(image="x"),
            container(s, "format").update(image="y", args=[]),
        ),
        [
            "serviceAccountName",
            "initContainers[fetch].image",
            "containers[format].image",
            "containers[format].args",
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "differs"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_every_change_to_what_the_pod_runs_or_reaches_changes_the_fingerprint(
    change: Change, differs: list[str]
) -> None:
    pod = built_pod()
    stored = as_stored(pod)

    change(stored["spec"])

    assert fingerprint(stored["spec"]) != fingerprint(pod["spec"])
    assert differences(pod["spec"], stored["spec"]) == differs


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(nodeName="node-1"),
        lambda s: s.update(priorityClassName="high"),
        lambda s: s.update(imagePullSecrets=[{"name": "pull"}]),
        lambda s: container(s, "format").update(terminationMessagePolicy="File"),
        lambda s: container(s, "format")["resources"]["limits"].update(cpu="1000m"),
        lambda s: s.update(ephemeralContainers=[]),
        lambda s: s.update(runtimeClassName="", schedulingGates=[]),
        lambda s: s["containers"].append("not a container"),
    ],
    ids=[
        "node",
        "priority-class",
        "pull-secrets",
        "termination-policy",
        "resources",
        "no-ephemeral",
        "empty-values",
        "not-a-mapping",
    ],
)
def test_what_the_fingerprint_leaves_out(change: Change) -> None:
    spec = built_pod()["spec"]
    changed = copy.deepcopy(spec)

    change(changed)

    assert fingerprint(changed) == fingerprint(spec)
    assert differences(spec, changed) == []


# --- the projection ---------------------------------------------------------------------------


def test_the_projection_covers_these_fields() -> None:
    assert CONTAINER_LISTS == ("initContainers", "containers", "ephemeralContainers")
    assert CONTAINER_FIELDS == (
        "name",
        "image",
        "imagePullPolicy",
        "command",
        "args",
        "workingDir",
        "env",
        "envFrom",
        "volumeMounts",
        "volumeDevices",
        "securityContext",
        "ports",
        "stdin",
        "tty",
    )
    assert POD_FIELDS == (
        "volumes",
        "securityContext",
        "serviceAccountName",
        "automountServiceAccountToken",
        "runtimeClassName",
        "activeDeadlineSeconds",
        "restartPolicy",
        "enableServiceLinks",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "hostUsers",
        "shareProcessNamespace",
    )


def test_the_projection_of_a_spec() -> None:
    spec = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 600,
        "enableServiceLinks": False,
        "nodeName": "node-1",
        "tolerations": [{"operator": "Exists"}],
        "volumes": [
            {"name": "a", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "b", "emptyDir": {}},
            {"name": "c", "emptyDir": {"sizeLimit": 5}},
            {"name": "d", "configMap": {"name": "x"}},
            "odd",
        ],
        "initContainers": [
            {
                "name": "fetch",
                "image": "i",
                "env": [{"name": "E", "value": ""}],
                "resources": {"limits": {"cpu": "1"}},
                "terminationMessagePath": "/dev/termination-log",
            }
        ],
        "containers": [{"name": "c", "image": "j", "args": [], "stdin": False}],
    }

    assert projection(spec) == {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": 600,
        "enableServiceLinks": False,
        "volumes": [
            {"name": "a", "emptyDir": {"sizeLimit": str(2**30)}},
            {"name": "b"},
            {"name": "c", "emptyDir": {"sizeLimit": 5}},
            {"name": "d", "configMap": {"name": "x"}},
            "odd",
        ],
        "initContainers": [{"name": "fetch", "image": "i", "env": [{"name": "E"}]}],
        "containers": [{"name": "c", "image": "j", "stdin": False}],
    }


@pytest.mark.parametrize(
    ("limit", "exact"),
    [("1Gi", "1073741824"), ("1024Mi", "1073741824"), ("0.5Gi", "536870912"), ("500m", "1/2")],
)
def test_a_size_limit_is_compared_by_its_value(limit: str, exact: str) -> None:
    volume: dict[str, Any] = {"name": "v", "emptyDir": {"sizeLimit": limit, "medium": "Memory"}}

    assert projection({"volumes": [volume]}) == {
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": exact, "medium": "Memory"}}]
    }
    assert volume["emptyDir"]["sizeLimit"] == limit  # the spec itself is left as it was


def test_volumes_that_are_not_a_list_are_projected_as_they_are() -> None:
    assert projection({"volumes": {"name": "v"}}) == {"volumes": {"name": "v"}}
    assert projection({"volumes": None}) == {}


def test_a_spec_without_containers_projects_to_nothing() -> None:
    assert projection({}) == {}
    assert projection({"containers": None, "initContainers": []}) == {}


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ({"a": None, "b": "", "c": [], "d": {}, "e": 0, "f": False}, {"e": 0, "f": False}),
        ({"a": {"b": {"c": ""}}, "d": "x"}, {"d": "x"}),
        ({"a": [None, "", {"b": ""}, []]}, {"a": [None, "", {}, []]}),
        ([{"a": None}], [{}]),
        ("", ""),
        (None, None),
        (0, 0),
    ],
)
def test_pruned_drops_what_the_api_server_omits(value: Any, kept: Any) -> None:
    assert pruned(value) == kept


def test_differences_of_equal_specs_are_none() -> None:
    spec = built_pod()["spec"]

    assert differences(spec, copy.deepcopy(spec)) == []
    assert differences({}, {}) == []


def test_a_container_moved_to_another_list_is_removed_from_one_and_added_to_the_other() -> None:
    built = {"containers": [{"name": "a", "image": "i"}], "initContainers": []}
    found = {"containers": [], "initContainers": [{"name": "a", "image": "i"}]}

    assert differences(built, found) == ["initContainers[a] added", "containers[a] removed"]


def test_containers_are_compared_by_name_in_name_order() -> None:
    built = {"containers": [{"name": "b", "image": "1"}, {"name": "a", "image": "1"}]}
    found = {"containers": [{"name": "a", "image": "2"}, {"name": "b", "image": "2"}]}

    assert differences(built, found) == ["containers[a].image", "containers[b].image"]
