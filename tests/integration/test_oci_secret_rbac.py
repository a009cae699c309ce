"""An operator that may not read a version's registry Secret says so, and resumes once it may.

The operator runs as the chart's ServiceAccount with the namespaced Role the chart renders,
minus its one rule on secrets (as a cluster whose admin trimmed it would have it). A version
naming a registry Secret then ends in CredentialsNotFound, whose message names the Secret,
its namespace and the missing rule, not a generic error; with the rule back, it is verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from modelregistry.devenv import user_of
from modelregistry.localenv import S3Server
from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration import ocipush
from tests.integration.conftest import Cluster, temporary_namespace
from tests.integration.support import Objects, wait_until
from tests.integration.test_chart_install import policies_exempting
from tests.integration.test_oci_verification import docker_secret
from tests.integration.test_rbac import (
    OPERATOR,
    apply_rbac,
    as_the_chart_runs_it,
    delete_cluster_rbac,
    holds_the_lease,
    service_account_kubeconfig,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def release_namespace(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-secret-") as name:
        yield name


@pytest.fixture
def watched(cluster: Cluster) -> Iterator[str]:
    with temporary_namespace(cluster, "mr-incluster-secret-watched-") as name:
        yield name


def set_secrets_rule(cluster: Cluster, namespace: str, *, granted: bool) -> None:
    """The chart's Role in `namespace`, with or without its get on secrets."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    role = rbac.read_namespaced_role(OPERATOR, namespace)
    kept = [r for r in role.rules or [] if "secrets" not in (r.resources or [])]
    rules: list[Any] = [
        {"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs} for r in kept
    ]
    if granted:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    rbac.patch_namespaced_role(OPERATOR, namespace, {"rules": rules})


def test_a_registry_secret_the_operator_may_not_read_is_named_with_the_missing_rule(
    cluster: Cluster,
    release_namespace: str,
    watched: str,
    s3: S3Server,
    oci_registry: OciRegistry,
    tmp_path: Path,
) -> None:
    scope = ("--set", "rbac.scope=namespaced", "--set", f"watchNamespaces={{{watched}}}")
    env = apply_rbac(cluster, release_namespace, *scope)
    set_secrets_rule(cluster, watched, granted=False)
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"weights" * 1000)
    pushed = ocipush.modelpack(
        ocipush.client(oci_registry.host),
        f"{oci_registry.host}/models/rbac:v1",
        [(weights, ocipush.MODELPACK_WEIGHT_RAW)],
        tmp_path,
    )
    objects = Objects(cluster.api_client, watched)
    docker_secret(objects, "registry", oci_registry.host, "any")
    kubeconfig = service_account_kubeconfig(cluster, release_namespace, tmp_path / "kubeconfig")
    limited = as_the_chart_runs_it(cluster, s3, env, kubeconfig, tmp_path / "operator.log", watched)
    try:
        with policies_exempting(cluster, user_of(str(kubeconfig))):
            limited.start()
            wait_until(
                lambda: holds_the_lease(cluster, release_namespace),
                what="the operator to hold the Lease",
                on_timeout=limited.log_tail,
            )
            objects.model("rbac")
            registry = {"secretRef": {"name": "registry"}, "plainHttp": True}
            objects.version(
                "rbac-1",
                "rbac",
                f"oci://{oci_registry.host}/models/rbac@{pushed.digest}",
                artifact={"registry": registry},
            )
            denied = objects.wait_condition(
                "rbac-1",
                "ArtifactVerified",
                "False",
                "CredentialsNotFound",
                on_timeout=limited.log_tail,
            )
            assert denied["message"] == (
                "The operator may not read Secret 'registry' "
                f"(spec.artifact.registry.secretRef.name) in namespace {watched!r}: grant it "
                "get on secrets there."
            )
            assert "Traceback" not in limited.log()

            # The rule the message names is all it takes.
            set_secrets_rule(cluster, watched, granted=True)
            objects.wait_condition(
                "rbac-1", "ArtifactVerified", "True", on_timeout=limited.log_tail
            )
    finally:
        limited.stop()
        delete_cluster_rbac(cluster)
