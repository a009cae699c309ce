"""Validation nobody can forge, on the real node: hostile namespace users and hostile checks.

Mallory holds the `edit` role in the test's namespace, as an ordinary member of
a team does: she may create, patch and delete Pods, NetworkPolicies and
ServiceAccounts there, and her requests reach the API server impersonated as
her. Each test lets her (or a check she wrote) try one way around a rule, and
requires the version to end in a named state that the attempt did not choose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry.decisions.sandbox import POLICY_NAME
from modelregistry.decisions.validationpod import SERVICE_ACCOUNT
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, PodRuntime
from tests.integration.support import (
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    wait_until,
)
from tests.integration.test_validation import secret_for, validation_of
from tests.unit.test_checks_artifacts import sklearn_mlflow_model

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

MALLORY = "mallory"
SECURITY = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.fixture
def mallory(cluster: Cluster, restricted: str) -> kubernetes.client.CoreV1Api:
    """The Core API as Mallory, who may `edit` in the test's namespace and nothing more."""
    bind_cluster_role(cluster.api_client, restricted, "edit", MALLORY)
    core = kubernetes.client.CoreV1Api(impersonating(cluster.api_client, MALLORY))

    def allowed() -> bool:  # `edit` is filled in by the controller-manager's aggregation
        try:
            core.list_namespaced_pod(restricted)
        except kubernetes.client.exceptions.ApiException as error:
            if error.status == 403:
                return False
            raise
        return True

    wait_until(allowed, what="Mallory's `edit` role to take effect")
    return core


def shell_check(name: str, image: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "command": ["sh", "-c", script], **extra}


def register(
    objects: Objects, name: str, bucket: str, s3: S3Server, *checks: dict[str, Any]
) -> str:
    """A version of Model clf with these checks; returns its uid."""
    created = objects.version(
        name,
        "clf",
        f"s3://{bucket}/m.bin",
        artifact={"storage": secret_for(objects, s3)},
        validation={"checks": list(checks), "deadlineSeconds": 120},
    )
    return str(created["metadata"]["uid"])


def impostor(name: str, version: str, uid: str, image: str) -> dict[str, Any]:
    """A Pod that looks like a validation Pod of `version` (labels, controller owner) and passes."""
    return {
        "metadata": {
            "name": name,
            "labels": {
                "modelregistry.io/model-version": version,
                "modelregistry.io/model-version-uid": uid,
                "modelregistry.io/validation-run": "1",
                "app.kubernetes.io/managed-by": "modelregistry-operator",
                "app.kubernetes.io/component": "validation",
            },
            "ownerReferences": [
                {
                    "apiVersion": "modelregistry.io/v1alpha1",
                    "kind": "ModelVersion",
                    "name": version,
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "initContainers": [
                {"name": "fetch", "image": image, "command": ["true"], "securityContext": SECURITY}
            ],
            "containers": [
                {"name": "gate", "image": image, "command": ["true"], "securityContext": SECURITY}
            ],
        },
    }


def phase(objects: Objects, name: str) -> str | None:
    try:
        pod = objects.core.read_namespaced_pod(name, objects.namespace)
    except kubernetes.client.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    return cast(str, pod.status.phase) if pod.status else None


def warnings(objects: Objects, name: str) -> list[dict[str, Any]]:
    return [e for e in objects.events(name) if e["type"] == "Warning"]


def test_a_pod_made_first_at_a_predictable_name_that_passes_is_never_read(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    mallory: kubernetes.client.CoreV1Api,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    uid = register(objects, "clf-gate", bucket, s3, shell_check("gate", busybox, "sleep 3; exit 1"))
    # The name validation Pods used to have, taken the moment the version exists.
    mallory.create_namespaced_pod(
        restricted, cast(Any, impostor("clf-gate-validation-1", "clf-gate", uid, busybox))
    )

    failed = objects.wait_condition(
        "clf-gate", "Validated", "False", "CheckFailed", timeout=120, on_timeout=operator.log_tail
    )
    run = validation_of(objects, "clf-gate")
    assert run["podName"] != "clf-gate-validation-1"
    assert (run["run"], run["recreated"]) == (1, 0)
    assert f"kubectl logs {run['podName']} -c gate" in failed["message"]
    assert "Traceback" not in operator.log()


def test_a_foreign_pod_at_the_recorded_name_is_reported_and_the_run_goes_on_in_its_own(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    mallory: kubernetes.client.CoreV1Api,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    uid = register(objects, "clf-swap", bucket, s3, shell_check("gate", busybox, "sleep 8; exit 1"))
    name = wait_until(
        lambda: validation_of(objects, "clf-swap").get("podName"), what="the run's Pod"
    )
    # While the operator is down, Mallory swaps the run's Pod for one of hers that passes.
    operator.kill()
    try:
        mallory.delete_namespaced_pod(name, restricted, grace_period_seconds=0)
        wait_until(lambda: phase(objects, name) is None, what=f"{name} to go")
        mallory.create_namespaced_pod(
            restricted, cast(Any, impostor(name, "clf-swap", uid, busybox))
        )
        wait_until(lambda: phase(objects, name) == "Succeeded", what="the impostor to pass")
    finally:
        operator.start()

    failed = objects.wait_condition(
        "clf-swap", "Validated", "False", "CheckFailed", timeout=120, on_timeout=operator.log_tail
    )
    assert "Check 'gate' failed (exit code 1)" in failed["message"]
    run = validation_of(objects, "clf-swap")
    assert (run["run"], run["recreated"]) == (1, 1)
    assert run["podName"] != name
    (untrusted,) = [e for e in warnings(objects, "clf-swap") if e["reason"] == "UntrustedPod"]
    assert untrusted["message"].startswith(
        f"Pod {name} is not the Pod the operator created for run 1 (its uid "
    )
    assert phase(objects, name) == "Succeeded"  # hers: left alone
    assert "Traceback" not in operator.log()


def test_a_check_s_image_patched_mid_run_is_not_read(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    pod_runtime: PodRuntime,
    mallory: kubernetes.client.CoreV1Api,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    register(objects, "clf-patch", bucket, s3, shell_check("gate", busybox, "sleep 8; exit 1"))
    name = wait_until(
        lambda: validation_of(objects, "clf-patch").get("podName"), what="the run's Pod"
    )
    wait_until(lambda: phase(objects, name) == "Running", what=f"{name} to run")

    # Pod specs are immutable but for images: point the check at another image.
    mallory.patch_namespaced_pod(
        name, restricted, {"spec": {"containers": [{"name": "gate", "image": pod_runtime.image}]}}
    )

    failed = objects.wait_condition(
        "clf-patch", "Validated", "False", "CheckFailed", timeout=120, on_timeout=operator.log_tail
    )
    assert "Check 'gate' failed (exit code 1)" in failed["message"]
    (untrusted,) = [e for e in warnings(objects, "clf-patch") if e["reason"] == "UntrustedPod"]
    assert untrusted["message"].startswith(f"Pod {name} was changed after the operator created it")
    wait_until(lambda: phase(objects, name) is None, what="the altered Pod to be deleted")


def test_a_namespace_user_cannot_write_a_pod_s_status(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    mallory: kubernetes.client.CoreV1Api,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    """Exit codes come from the kubelet: `edit` holds no right on pods/status."""
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    register(objects, "clf-status", bucket, s3, shell_check("gate", busybox, "sleep 30; exit 1"))
    name = wait_until(
        lambda: validation_of(objects, "clf-status").get("podName"), what="the run's Pod"
    )
    forged = {"status": {"phase": "Succeeded"}}
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        mallory.patch_namespaced_pod_status(name, restricted, forged)
    assert refused.value.status == 403
    message = json.loads(str(refused.value.body))["message"]
    assert f'User "{MALLORY}" cannot patch resource "pods/status"' in message


PROBE = r"""
found=""
note() { found="$found $1=$2"; }
token=/var/run/secrets/kubernetes.io/serviceaccount/token
if test -e $token; then note token yes; else note token no; fi
if busybox env | busybox grep -q '^AWS_'; then note awsEnv yes; else note awsEnv no; fi
if touch /rootfs-write 2>/dev/null; then note rootfs yes; else note rootfs no; fi
if touch /artifact/artifact-write 2>/dev/null; then note artifact yes; else note artifact no; fi
if touch /meta/meta-write 2>/dev/null; then note meta yes; else note meta no; fi
if echo mine > /tmp/probe-was-here; then note ownScratch yes; else note ownScratch no; fi
if busybox wget -q -T 3 -O /tmp/metadata http://169.254.169.254/latest/meta-data/ 2>/dev/null
then note metadata yes; else note metadata no; fi
if busybox wget -q -T 3 -O /tmp/object "$STORE/$BUCKET/m.bin" 2>/dev/null
then note storeWithoutKeys yes; else note storeWithoutKeys no; fi
note user "$(busybox id -u)"
echo "probed:$found" > /dev/termination-log
"""
PEER = r"""
busybox sleep 4
if test -e /tmp/probe-was-here; then seen=yes; else seen=no; fi
echo "peerScratch=$seen" > /dev/termination-log
"""


def test_a_hostile_check_finds_no_credentials_no_writable_path_and_no_way_out(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    pod_runtime: PodRuntime,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    store = {
        "env": [
            {"name": "STORE", "value": pod_runtime.s3_endpoint},
            {"name": "BUCKET", "value": bucket},
        ]
    }
    register(
        objects,
        "clf-probe",
        bucket,
        s3,
        shell_check("probe", busybox, PROBE, **store),
        shell_check("peer", busybox, PEER),
    )

    objects.wait_condition(
        "clf-probe", "Validated", "True", "ChecksPassed", timeout=120, on_timeout=operator.log_tail
    )
    results = {c["name"]: c["message"] for c in validation_of(objects, "clf-probe")["checks"]}
    findings = dict(item.split("=") for item in results["probe"].removeprefix("probed:").split())
    assert findings == {
        "token": "no",  # no ServiceAccount token is mounted
        "awsEnv": "no",  # the fetch step's credentials are not in a check's environment
        "rootfs": "no",  # read-only root filesystem
        "artifact": "no",  # the verified bytes are mounted read-only
        "meta": "no",
        "ownScratch": "yes",  # its own /tmp, and only its own
        "metadata": "no",  # no route to a cloud metadata address
        "storeWithoutKeys": "no",  # the store is reachable, but refuses a request without keys
        "user": "65532",
    }
    assert results["peer"] == "peerScratch=no"
    assert "Traceback" not in operator.log()


def test_reports_no_parser_can_read_end_in_an_explained_state(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    to_log = "> /dev/termination-log"
    register(
        objects,
        "clf-reports",
        bucket,
        s3,
        shell_check(
            "deep", busybox, f"busybox head -c 4096 /dev/zero | busybox tr '\\0' '[' {to_log}"
        ),
        shell_check("bytes", busybox, f"printf '\\377\\376 not utf-8 \\300' {to_log}"),
        shell_check("nuls", busybox, f"busybox head -c 4096 /dev/zero {to_log}"),
        shell_check("number", busybox, f"printf '{{\"value\": 1%04000d}}' 0 {to_log}; exit 1"),
    )

    failed = objects.wait_condition(
        "clf-reports",
        "Validated",
        "False",
        "CheckFailed",
        timeout=120,
        on_timeout=operator.log_tail,
    )
    assert failed["message"].startswith("Check 'number' failed (exit code 1): ")
    results = {c["name"]: c for c in validation_of(objects, "clf-reports")["checks"]}
    assert results["deep"]["result"] == "Passed"
    assert results["deep"]["message"] == "[" * 2035 + "… (truncated)"
    assert results["bytes"]["message"] == "\ufffd\ufffd not utf-8 \ufffd"
    assert results["nuls"]["message"] == ""
    assert results["number"]["result"] == "Failed"
    assert "Traceback" not in operator.log()


def test_two_versions_whose_long_names_share_a_prefix_each_validate_their_own_bytes(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    objects.model("clf")
    prefix = "clf-" + "x" * 236  # 240 characters shared
    names = [prefix + "-first", prefix + "-second"]
    storage = secret_for(objects, s3)
    for name in names:
        s3_client.put_object(Bucket=bucket, Key=f"{name[-6:]}.bin", Body=name.encode())
        objects.version(
            name,
            "clf",
            f"s3://{bucket}/{name[-6:]}.bin",
            artifact={"storage": storage},
            validation={
                "checks": [
                    shell_check(
                        "mine",
                        busybox,
                        'test "$(busybox cat /artifact/*.bin)" = "$EXPECTED"',
                        env=[{"name": "EXPECTED", "value": name}],
                    )
                ]
            },
        )
    for name in names:
        objects.wait_condition(
            name, "Validated", "True", "ChecksPassed", timeout=120, on_timeout=operator.log_tail
        )
    pods = [validation_of(objects, n)["podName"] for n in names]
    assert pods[0] != pods[1]
    assert all(len(p) <= 253 for p in pods)


def test_required_checks_run_whatever_the_version_declares(
    operator: OperatorProcess,
    restricted: str,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
    tmp_path: Path,
) -> None:
    objects.model(
        "clf",
        policy={
            "validation": {
                "requiredChecks": [{"name": "format", "builtin": "format"}],
                "requireSignature": True,
            }
        },
    )
    root = sklearn_mlflow_model(tmp_path / "unsigned", inputs=None)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        s3_client.upload_file(str(path), bucket, "unsigned/" + path.relative_to(root).as_posix())
    # `checks: []` used to mean "nothing to check": the Model's floor still runs.
    objects.version(
        "clf-empty",
        "clf",
        f"s3://{bucket}/unsigned/",
        artifact={"format": "mlflow", "storage": secret_for(objects, s3)},
        validation={"checks": []},
    )

    failed = objects.wait_condition(
        "clf-empty", "Validated", "False", "CheckFailed", timeout=180, on_timeout=operator.log_tail
    )
    assert failed["message"].startswith("Check 'format' failed (exit code 1)")
    assert "signature" in failed["message"]
    assert [c["name"] for c in validation_of(objects, "clf-empty")["checks"]] == ["format"]


def test_a_custom_check_cannot_take_a_built_in_s_name(
    cluster: Cluster, namespace: str, objects: Objects, bucket: str
) -> None:
    """Refused by the CRD's rules, for anyone: a report named `format` is the registry's."""
    for name in ("format", "fetch"):
        with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
            objects.version(
                f"clf-{name}",
                "clf",
                f"s3://{bucket}/m.bin",
                validation={
                    "checks": [{"name": name, "image": "registry.example/x:1", "command": ["true"]}]
                },
            )
        assert refused.value.status == 422
        message = json.loads(str(refused.value.body))["message"]
        assert "spec.validation.checks[0].name" in message
        assert "give the check another name" in message


def test_the_namespace_s_box_is_the_operator_s_and_is_put_back_when_changed(
    operator: OperatorProcess,
    cluster: Cluster,
    restricted: str,
    busybox: str,
    pod_runtime: PodRuntime,
    mallory: kubernetes.client.CoreV1Api,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    # Before any validation ran here, Mallory made the ServiceAccount with a cloud role.
    mallory.create_namespaced_service_account(
        restricted,
        cast(
            Any,
            {
                "metadata": {
                    "name": SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/admin"},
                }
            },
        ),
    )
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    register(objects, "clf-box", bucket, s3, shell_check("ok", busybox, "true"))
    objects.wait_condition(
        "clf-box", "Validated", "True", "ChecksPassed", timeout=120, on_timeout=operator.log_tail
    )

    account = objects.core.read_namespaced_service_account(SERVICE_ACCOUNT, restricted)
    assert account.metadata is not None
    assert "eks.amazonaws.com/role-arn" not in (account.metadata.annotations or {})
    assert account.automount_service_account_token is False
    networking = kubernetes.client.NetworkingV1Api(cluster.api_client)
    policy = networking.read_namespaced_network_policy(POLICY_NAME, restricted).to_dict()
    node_ip, port = pod_runtime.s3_endpoint.removeprefix("http://").split(":")
    assert policy["spec"]["policy_types"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] is None  # none allowed
    # The store (and the registries the operator is told Pods may reach), then DNS.
    *endpoints, dns = policy["spec"]["egress"]
    reached = [
        (rule["to"][0]["ip_block"]["cidr"], rule["ports"]) for rule in endpoints if rule["to"]
    ]
    assert len(reached) == len(endpoints)
    assert (
        f"{node_ip}/32",
        [{"end_port": None, "port": int(port), "protocol": "TCP"}],
    ) in reached
    assert all(cidr.endswith("/32") and len(ports) == 1 for cidr, ports in reached)
    assert dns["to"][0]["namespace_selector"]["match_labels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }

    # Mallory opens the policy up; the next run puts it back before its Pod exists.
    as_mallory = kubernetes.client.NetworkingV1Api(impersonating(cluster.api_client, MALLORY))
    as_mallory.patch_namespaced_network_policy(POLICY_NAME, restricted, {"spec": {"egress": [{}]}})
    objects.api.patch_namespaced_custom_object(
        "modelregistry.io",
        "v1alpha1",
        restricted,
        "modelversions",
        "clf-box",
        {"metadata": {"annotations": {"modelregistry.io/revalidate": str(time.time())}}},
    )
    wait_until(lambda: validation_of(objects, "clf-box").get("run") == 2, what="the second run")
    objects.wait_condition("clf-box", "Validated", "True", "ChecksPassed", timeout=120)
    restored = networking.read_namespaced_network_policy(POLICY_NAME, restricted).to_dict()
    assert restored["spec"]["egress"] == policy["spec"]["egress"]


@pytest.fixture
def injecting_admission(cluster: Cluster, restricted: str) -> Iterator[None]:
    """A mutating admission policy that adds a cloud role to every validation Pod's fetch step,
    as a workload-identity webhook does; removed afterwards."""
    api = kubernetes.client.ApiClient(cluster.api_client.configuration)
    custom = kubernetes.client.CustomObjectsApi(api)
    group, version = "admissionregistration.k8s.io", "v1beta1"
    name = f"inject-role-{restricted}"
    policy = {
        "apiVersion": f"{group}/{version}",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "validation-pods",
                    "expression": "object.metadata.?labels[?'app.kubernetes.io/component']"
                    ".orValue('') == 'validation'",
                }
            ],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {
                        "expression": "Object{spec: Object.spec{initContainers: ["
                        'Object.spec.initContainers{name: "fetch", env: ['
                        'Object.spec.initContainers.env{name: "AWS_ROLE_ARN",'
                        ' value: "arn:aws:iam::1:role/admin"}]}]}}'
                    },
                }
            ],
        },
    }
    binding = {
        "apiVersion": f"{group}/{version}",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": restricted}}
            },
        },
    }
    custom.create_cluster_custom_object(group, version, "mutatingadmissionpolicies", policy)
    custom.create_cluster_custom_object(group, version, "mutatingadmissionpolicybindings", binding)
    probe = {
        "metadata": {
            "generateName": "probe-",
            "labels": {"app.kubernetes.io/component": "validation"},
        },
        "spec": {
            "initContainers": [
                {"name": "fetch", "image": "x", "env": [], "securityContext": SECURITY}
            ],
            "containers": [{"name": "c", "image": "x", "securityContext": SECURITY}],
        },
    }

    def injecting() -> bool:
        admitted = kubernetes.client.CoreV1Api(api).create_namespaced_pod(
            restricted, cast(Any, probe), dry_run="All"
        )
        (fetch,) = admitted.to_dict()["spec"]["init_containers"]
        return any(e["name"] == "AWS_ROLE_ARN" for e in fetch["env"] or [])

    try:
        wait_until(injecting, what="the mutating admission policy to take effect")
        yield
    finally:
        custom.delete_cluster_custom_object(group, version, "mutatingadmissionpolicybindings", name)
        custom.delete_cluster_custom_object(group, version, "mutatingadmissionpolicies", name)


def test_a_validation_pod_changed_by_admission_is_deleted_unread(
    operator: OperatorProcess,
    restricted: str,
    busybox: str,
    injecting_admission: None,
    objects: Objects,
    bucket: str,
    s3: S3Server,
    s3_client: S3Client,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    objects.model("clf")
    register(objects, "clf-mutated", bucket, s3, shell_check("ok", busybox, "true"))

    failed = objects.wait_condition(
        "clf-mutated", "Validated", "False", "PodAltered", timeout=120, on_timeout=operator.log_tail
    )
    assert "(initContainers[fetch].env differ)" in failed["message"]
    assert "an admission webhook changed it" in failed["message"]
    stalled = objects.present_condition("clf-mutated", "Stalled")
    assert stalled["reason"] == "PodAltered"
    name = validation_of(objects, "clf-mutated").get("podName")
    assert name is None  # never recorded: never read
    wait_until(
        lambda: (
            not objects.core.list_namespaced_pod(
                restricted, label_selector="modelregistry.io/model-version=clf-mutated"
            ).items
        ),
        what="the altered Pod to be deleted",
    )
