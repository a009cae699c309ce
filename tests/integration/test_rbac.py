"""The chart's RBAC is enough for the operator, and it cannot write a spec."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest
import yaml

from modelregistry.localenv import S3Server
from tests.integration.conftest import Cluster, operator_environment
from tests.integration.support import Objects, OperatorProcess, render_chart

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def service_account_kubeconfig(cluster: Cluster, namespace: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount."""
    core = kubernetes.client.CoreV1Api(cluster.api_client)
    request = core.create_namespaced_service_account_token(
        "mr-operator", namespace, cast(Any, {"spec": {"expirationSeconds": 3600}})
    )
    assert request.status is not None
    token = request.status.token
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    return path


def test_operator_works_with_the_charts_rbac_and_no_more(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    bucket: str,
    s3_client: S3Client,
    s3: S3Server,
    tmp_path: Path,
) -> None:
    rendered = render_chart(cluster.api_client, namespace)
    rbac = "---\n".join(
        yaml.safe_dump(d)
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    )
    cluster.kubectl_run("apply", "-n", namespace, "-f", "-", stdin=rbac)
    kubeconfig = service_account_kubeconfig(cluster, namespace, tmp_path / "kubeconfig")

    # Only this operator may handle the namespace during the test.
    operator.stop()
    limited = OperatorProcess(
        {**operator_environment(cluster, s3), "KUBECONFIG": str(kubeconfig)},
        tmp_path / "operator.log",
        namespace=namespace,
    )
    try:
        limited.start()
        s3_client.put_object(Bucket=bucket, Key="r.bin", Body=b"rbac")
        objects.model("rbac")
        objects.version("rbac-1", "rbac", f"s3://{bucket}/r.bin")
        objects.wait_condition("rbac-1", "Ready", "True", on_timeout=limited.log_tail)
        assert "forbidden" not in limited.log().lower()

        # Rule 1, enforced: the operator's identity cannot write a spec.
        as_operator = cluster.kubectl_run(
            "--kubeconfig",
            str(kubeconfig),
            "patch",
            "-n",
            namespace,
            "modelversion",
            "rbac-1",
            "--type=merge",
            "-p",
            '{"spec": {"description": "changed by the operator"}}',
            check=False,
        )
        assert as_operator.returncode != 0
        assert "forbidden" in as_operator.stderr.lower()
    finally:
        limited.stop()
        operator.start()
