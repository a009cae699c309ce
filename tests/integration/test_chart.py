"""The Helm chart renders, lints, and its objects are accepted by a real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelregistry import crdgen
from modelregistry.settings import Settings
from tests.integration.conftest import Cluster
from tests.integration.support import CHART, helm, render_chart

pytestmark = pytest.mark.integration


def test_chart_lints() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART)).stdout


def test_chart_objects_pass_server_side_validation(cluster: Cluster, namespace: str) -> None:
    rendered = render_chart(cluster.api_client, namespace, "--include-crds")
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Deployment",
            "ServiceAccount",
        ]
    )
    result = cluster.kubectl_run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered, check=False
    )
    assert result.returncode == 0, result.stderr


def test_chart_ships_the_generated_crds() -> None:
    for kind in crdgen.KINDS:
        shipped = (CHART / "crds" / crdgen.crd_filename(kind)).read_text()
        assert shipped == crdgen.render(kind), "chart CRDs are stale: run `make crds`"


def test_chart_pod_meets_the_restricted_profile_with_every_value_set(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    # Pod Security Admission judges a Deployment's Pod template in warn mode
    # (enforce judges Pods only): a warning would name each violation.
    cluster.kubectl_run(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
        "pod-security.kubernetes.io/warn-version=latest",
    )
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "image": {"pullPolicy": "Never"},
                "s3": {"endpoint": "http://10.213.0.1:9000", "credentialsSecret": "s3-credentials"},
                "watchNamespaces": [namespace, "other"],
                "verbose": True,
                "apiServer": {"host": "kubernetes.default.svc", "port": "443"},
                "hostAliases": [{"ip": "10.213.0.1", "hostnames": ["kubernetes.default.svc"]}],
                "extraEnv": [{"name": "MODELREGISTRY_RETRY_BASE_DELAY", "value": "0.5"}],
                "envFrom": [{"configMapRef": {"name": "more-settings"}}],
            }
        )
    )
    rendered = render_chart(cluster.api_client, namespace, "--values", str(values))
    [deployment] = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELREGISTRY_NAMESPACES"] == f"{namespace} other"
    assert env["KUBERNETES_SERVICE_HOST"] == "kubernetes.default.svc"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["MODELREGISTRY_RETRY_BASE_DELAY"] == "0.5"
    assert container["envFrom"] == [
        {"secretRef": {"name": "s3-credentials"}},
        {"configMapRef": {"name": "more-settings"}},
    ]
    assert container["args"] == ["run", "--verbose"]
    assert pod["hostAliases"] == [{"ip": "10.213.0.1", "hostnames": ["kubernetes.default.svc"]}]
    assert pod["automountServiceAccountToken"] is True
    result = cluster.kubectl_run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "PodSecurity" not in result.stderr, result.stderr


def test_the_validation_box_settings_reach_the_operator_and_its_rights_follow_them(
    cluster: Cluster, namespace: str
) -> None:
    rendered = render_chart(
        cluster.api_client,
        namespace,
        "--set",
        "validation.networkPolicy.storage[0].cidr=10.213.0.1/32",
        "--set",
        "validation.networkPolicy.storage[0].port=9000",
        "--set",
        "validation.networkPolicy.storage[1].cidr=10.0.0.0/24",
        "--set",
        "validation.networkPolicy.storage[1].port=443",
        "--set",
        "validation.maxLimits.memory=16Gi",
        "--set",
        "validation.runtimeClassName=gvisor",
    )
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = Settings.from_environment({k: v for k, v in env.items() if v is not None})
    assert settings.validation_egress == (("10.213.0.1/32", 9000), ("10.0.0.0/24", 443))
    assert settings.validation_resources.maximum == {
        "cpu": "4",
        "ephemeral-storage": "10Gi",
        "memory": "16Gi",
    }
    assert settings.validation_runtime_class == "gvisor"
    assert settings.validation_network_policy is True
    assert settings.validation_dns == "kube-system/k8s-app=kube-dns"
    [role] = [d for d in documents if d["kind"] == "ClusterRole"]
    rights = {(r["apiGroups"][0], r["resources"][0]): r["verbs"] for r in role["rules"]}
    assert rights[("", "serviceaccounts")] == ["get", "create", "update"]
    assert rights[("networking.k8s.io", "networkpolicies")] == ["get", "create", "update"]

    # Without the policy, the operator asks for no rights on NetworkPolicies.
    off = render_chart(
        cluster.api_client, namespace, "--set", "validation.networkPolicy.enabled=false"
    )
    [role] = [d for d in yaml.safe_load_all(off) if d and d["kind"] == "ClusterRole"]
    assert all(r["resources"] != ["networkpolicies"] for r in role["rules"])
    [deployment] = [d for d in yaml.safe_load_all(off) if d and d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELREGISTRY_VALIDATION_NETWORK_POLICY"] == "false"
