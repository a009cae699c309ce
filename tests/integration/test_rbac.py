"""The chart's RBAC is enough for the operator in each mode, and it cannot write a spec.

The operator runs here as a process authenticated as the chart's ServiceAccount,
with the RBAC objects the chart renders and nothing else, and with the leader
election the chart's Deployment sets up. Its namespaces are named mr-incluster-*,
which the session's own operator leaves alone (conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest
import yaml

from modelregistry import client
from modelregistry.devenv import user_of
from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, operator_environment, temporary_namespace
from tests.integration.support import (
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    render_chart,
    wait_until,
)
from tests.integration.test_chart_install import policies_exempting, refusals

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# `render_chart` names the release mr.
OPERATOR = "mr-operator"
POD_NAME = "mr-operator-rbac"


@pytest.fixture
def release_namespace(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-rbac-") as name:
        yield name


@pytest.fixture
def watched(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-watched-") as name:
        yield name


def apply_rbac(cluster: Cluster, namespace: str, *flags: str) -> dict[str, str]:
    """The chart's ServiceAccount and the operator's roles, applied; the Deployment's env."""
    rendered = render_chart(
        cluster.api_client, namespace, "--set", "admission.install=false", *flags
    )
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    rbac = [d for d in documents if d["kind"] in RBAC_KINDS]
    cluster.kubectl_run("apply", "-f", "-", stdin="---\n".join(yaml.safe_dump(d) for d in rbac))
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def delete_cluster_rbac(cluster: Cluster) -> None:
    cluster.kubectl_run("delete", "clusterrolebinding,clusterrole", OPERATOR, "--ignore-not-found")


def service_account_kubeconfig(cluster: Cluster, namespace: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount."""
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    request = core.create_namespaced_service_account_token(
        OPERATOR, namespace, cast(Any, {"spec": {"expirationSeconds": 3600}})
    )
    assert request.status is not None
    token = request.status.token
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    return path


def as_the_chart_runs_it(
    cluster: Cluster, s3: S3Server, env: dict[str, str], kubeconfig: Path, log: Path, watched: str
) -> OperatorProcess:
    """The operator with the chart's ServiceAccount and the chart's operator settings
    (leader election, the admission check mode), and this session's S3 and intervals."""
    chart_settings = {
        k: v
        for k, v in env.items()
        if k.startswith("MODELREGISTRY_LEADER_ELECTION") or k == "MODELREGISTRY_ADMISSION_POLICIES"
    }
    return OperatorProcess(
        {
            **operator_environment(cluster, s3),
            **chart_settings,
            "POD_NAME": POD_NAME,
            "KUBECONFIG": str(kubeconfig),
            # No HTTP server: the session's operator may hold the port already.
            "MODELREGISTRY_HTTP_PORT": "0",
        },
        log,
        namespace=watched,
    )


def holds_the_lease(cluster: Cluster, namespace: str) -> bool:
    lease = kubernetes.client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(
        OPERATOR, namespace
    )
    return lease.spec is not None and lease.spec.holder_identity == POD_NAME


def cannot_write_a_spec(cluster: Cluster, kubeconfig: Path, namespace: str, name: str) -> None:
    """Rule 1, enforced: the operator's identity cannot write a spec."""
    patch = '{"spec": {"description": "changed by the operator"}}'
    as_operator = cluster.kubectl_run(
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        *("patch", "modelversion", name, "--type=merge", "--patch", patch),
        check=False,
    )
    assert as_operator.returncode != 0
    assert "forbidden" in as_operator.stderr.lower()


def test_the_operator_works_with_the_cluster_role_and_no_more(
    cluster: Cluster,
    release_namespace: str,
    watched: str,
    bucket: str,
    s3_client: S3Client,
    s3: S3Server,
    tmp_path: Path,
) -> None:
    env = apply_rbac(cluster, release_namespace)
    try:
        kubeconfig = service_account_kubeconfig(cluster, release_namespace, tmp_path / "kubeconfig")
        limited = as_the_chart_runs_it(
            cluster, s3, env, kubeconfig, tmp_path / "operator.log", watched
        )
        objects = Objects(cluster.api_client, watched)
        try:
            with policies_exempting(cluster, user_of(str(kubeconfig))):
                limited.start()
                wait_until(
                    lambda: holds_the_lease(cluster, release_namespace),
                    what="the operator to hold the Lease",
                    on_timeout=limited.log_tail,
                )
                s3_client.put_object(Bucket=bucket, Key="r.bin", Body=b"rbac")
                objects.model("rbac")
                objects.version("rbac-1", "rbac", f"s3://{bucket}/r.bin")
                objects.wait_condition("rbac-1", "Ready", "True", on_timeout=limited.log_tail)
                assert refusals(limited.log()) == []
                cannot_write_a_spec(cluster, kubeconfig, watched, "rbac-1")
        finally:
            limited.stop()
    finally:
        delete_cluster_rbac(cluster)


def test_the_operator_works_with_roles_in_its_namespaces_alone(
    cluster: Cluster,
    release_namespace: str,
    watched: str,
    bucket: str,
    s3_client: S3Client,
    s3: S3Server,
    tmp_path: Path,
) -> None:
    scope = ("--set", "rbac.scope=namespaced", "--set", f"watchNamespaces={{{watched}}}")
    env = apply_rbac(cluster, release_namespace, *scope)
    assert env["MODELREGISTRY_ADMISSION_POLICIES"] == "installed"
    kubeconfig = service_account_kubeconfig(cluster, release_namespace, tmp_path / "kubeconfig")
    operator_user = user_of(str(kubeconfig))
    assert operator_user == f"system:serviceaccount:{release_namespace}:{OPERATOR}"
    limited = as_the_chart_runs_it(cluster, s3, env, kubeconfig, tmp_path / "operator.log", watched)
    objects = Objects(cluster.api_client, watched)
    try:
        # What a cluster admin installs once for a namespaced release: the policies exempting it.
        with policies_exempting(cluster, operator_user):
            limited.start()
            wait_until(
                lambda: holds_the_lease(cluster, release_namespace),
                what="the operator to hold the Lease",
                on_timeout=limited.log_tail,
            )
            s3_client.put_object(Bucket=bucket, Key="n.bin", Body=b"namespaced")
            objects.model("team", policy={"approval": {"requiredFor": ["Production"]}})
            objects.version("team-1", "team", f"s3://{bucket}/n.bin")
            objects.wait_condition("team-1", "Ready", "True", on_timeout=limited.log_tail)

            # Approvals count although the operator cannot read the policies: the chart vouches.
            objects.patch_spec("team-1", {"stage": "Production"})
            objects.wait_condition(
                "team-1", "StageGranted", "False", "ApprovalRequired", on_timeout=limited.log_tail
            )
            bind_cluster_role(cluster.api_client, watched, "modelregistry-approver", "alice")
            approver = client.Session(impersonating(cluster.api_client, "alice"), watched)
            client.approve(approver, "team-1", "Production")
            wait_until(
                lambda: (
                    (objects.get("modelversions", "team-1").get("status") or {}).get("stage")
                    == "Production"
                ),
                what="Production granted",
                on_timeout=limited.log_tail,
            )
            assert refusals(limited.log()) == []
            cannot_write_a_spec(cluster, kubeconfig, watched, "team-1")
    finally:
        limited.stop()
