"""The Helm chart lints, renders each RBAC mode as it should, refuses wrong values by their
names, and what it renders is accepted by a real API server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelregistry import admission, crdgen
from modelregistry.localenv import find_tool
from modelregistry.settings import Settings
from tests.integration.conftest import Cluster, temporary_namespace
from tests.integration.support import CHART, helm, render_chart

pytestmark = pytest.mark.integration

# Renders that need no API server are made for the oldest Kubernetes the chart supports.
OLDEST = "v1.31.0"
Doc = dict[str, Any]


def sets(*assignments: str) -> list[str]:
    """`--set` flags, one per assignment."""
    return [flag for assignment in assignments for flag in ("--set", assignment)]


NAMESPACED = sets("rbac.scope=namespaced", "watchNamespaces={team-a,team-b}")


def template(*flags: str, namespace: str = "mr-system") -> subprocess.CompletedProcess[str]:
    """`helm template mr` with these flags; its exit code is the caller's to judge."""
    command = ["template", "mr", str(CHART), "--namespace", namespace, "--kube-version", OLDEST]
    return subprocess.run(
        [str(find_tool("helm")), *command, *flags],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def rendered(*flags: str) -> list[Doc]:
    result = template(*flags)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def one(documents: list[Doc], kind: str, name: str | None = None) -> Doc:
    [found] = [d for d in documents if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    return found


def container_env(documents: list[Doc]) -> dict[str, str]:
    [container] = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def rights(role: Doc) -> dict[tuple[str, str], list[str]]:
    """(API group, resource) -> verbs, one rule per pair."""
    found: dict[tuple[str, str], list[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in found, f"two rules for {group}/{resource}"
                found[(group, resource)] = rule["verbs"]
    return found


# Exactly what the operator needs in a namespace it watches (docs/chart.md).
IN_A_WATCHED_NAMESPACE = {
    ("modelregistry.io", "models"): ["get", "list", "watch"],
    ("modelregistry.io", "modelversions"): ["get", "list", "watch"],
    ("modelregistry.io", "models/status"): ["get", "patch", "update"],
    ("modelregistry.io", "modelversions/status"): ["get", "patch", "update"],
    ("", "pods"): ["get", "list", "watch", "create", "delete"],
    ("serving.kserve.io", "inferenceservices"): ["get", "list", "watch"],  # docs/deployments.md
    ("", "serviceaccounts"): ["get", "create", "update"],
    ("networking.k8s.io", "networkpolicies"): ["get", "create", "update"],
    ("", "secrets"): ["get"],
    ("", "configmaps"): ["get"],  # signing keys and trust roots (docs/signing.md)
    ("", "events"): ["create", "patch"],
    ("events.k8s.io", "events"): ["create", "patch"],
}


def test_chart_lints_in_each_mode() -> None:
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART)).stdout
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART), *NAMESPACED).stdout


def test_chart_ships_the_generated_crds() -> None:
    for kind in crdgen.KINDS:
        shipped = (CHART / "crds" / crdgen.crd_filename(kind)).read_text()
        assert shipped == crdgen.render(kind), "chart CRDs are stale: run `make crds`"


def test_cluster_mode_grants_a_cluster_role_and_the_lease_in_the_release_namespace() -> None:
    documents = rendered()
    role = one(documents, "ClusterRole", "mr-operator")
    assert rights(role) == {
        **IN_A_WATCHED_NAMESPACE,
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"): ["get"],
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): ["get"],
        ("apiextensions.k8s.io", "customresourcedefinitions"): ["get", "list", "watch"],
        ("", "namespaces"): ["get", "list", "watch"],
    }
    binding = one(documents, "ClusterRoleBinding", "mr-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "mr-operator", "namespace": "mr-system"}
    ]
    assert not [
        d for d in documents if d["kind"] == "Role" and d["metadata"]["name"] == "mr-operator"
    ]
    assert_lease_role(documents, "mr-operator")
    assert "MODELREGISTRY_ADMISSION_POLICIES" not in container_env(documents)


def assert_lease_role(documents: list[Doc], lease: str) -> None:
    role = one(documents, "Role", "mr-operator-leader-election")
    assert role["metadata"]["namespace"] == "mr-system"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease],
            "verbs": ["get", "update", "list", "watch"],
        },
    ]
    binding = one(documents, "RoleBinding", "mr-operator-leader-election")
    assert binding["metadata"]["namespace"] == "mr-system"
    assert binding["roleRef"]["name"] == "mr-operator-leader-election"


def test_namespaced_mode_grants_roles_in_the_watched_namespaces_and_nothing_cluster_wide() -> None:
    documents = rendered(*NAMESPACED, "--set", "admission.install=false")
    # Nothing cluster-scoped at all: a namespace admin can install this.
    cluster_scoped = [d for d in documents if "namespace" not in d["metadata"]]
    assert cluster_scoped == []
    roles = [d for d in documents if d["kind"] == "Role" and d["metadata"]["name"] == "mr-operator"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        assert rights(role) == IN_A_WATCHED_NAMESPACE
    bindings = [
        d
        for d in documents
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "mr-operator"
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "mr-operator",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "mr-operator", "namespace": "mr-system"}
        ]
    assert_lease_role(documents, "mr-operator")
    env = container_env(documents)
    settings = Settings.from_environment(env)
    assert settings.admission_policies == "installed"
    assert settings.namespaces == ("team-a", "team-b")

    # Without the validation NetworkPolicy, no right on NetworkPolicies either.
    off = rendered(*NAMESPACED, "--set", "validation.networkPolicy.enabled=false")
    for role in (d for d in off if d["kind"] == "Role" and d["metadata"]["name"] == "mr-operator"):
        assert ("networking.k8s.io", "networkpolicies") not in rights(role)

    # The admission policies may still come with it, from an installer who is a cluster
    # admin; the operator's own rights stay namespaced.
    with_policies = rendered(*NAMESPACED)
    assert {d["kind"] for d in with_policies if "namespace" not in d["metadata"]} == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterRole",
    }
    assert "mr-operator" not in {
        d["metadata"]["name"] for d in with_policies if d["kind"] == "ClusterRole"
    }


def test_the_deployment_runs_replicas_under_leader_election_with_probes() -> None:
    documents = rendered("--set", "leaderElection.leaseName=registry-a")
    deployment = one(documents, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    downward = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in container["env"]
        if "valueFrom" in e
    }
    assert downward == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    settings = Settings.from_environment(container_env(documents))
    assert settings.leader_election is True
    assert settings.leader_election_namespace == "mr-system"
    assert settings.leader_election_name == "registry-a"
    assert settings.http_port == 8080
    assert settings.log_format == "text"
    assert_lease_role(documents, "registry-a")
    assert pod["enableServiceLinks"] is False
    [term] = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"] == {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": spec["selector"]["matchLabels"]},
    }
    budget = one(documents, "PodDisruptionBudget")
    assert budget["spec"] == {"minAvailable": 1, "selector": spec["selector"]}

    # One replica: no budget, which would block every node drain.
    single = rendered("--set", "replicas=1")
    assert not [d for d in single if d["kind"] == "PodDisruptionBudget"]
    assert one(single, "Deployment")["spec"]["replicas"] == 1


def test_metrics_service_and_the_optional_service_monitor_and_dashboard() -> None:
    documents = rendered("--set", "http.port=9090")
    service = one(documents, "Service", "mr-operator-metrics")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "http", "protocol": "TCP"}
    ]
    deployment = one(documents, "Deployment")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert container_env(documents)["MODELREGISTRY_HTTP_PORT"] == "9090"
    assert not [d for d in documents if d["kind"] in ("ServiceMonitor", "ConfigMap")]

    monitored = rendered(
        *sets(
            "metrics.serviceMonitor.enabled=true",
            "metrics.serviceMonitor.interval=30s",
            "metrics.serviceMonitor.labels.release=kube-prometheus-stack",
        )
    )
    monitor = one(monitored, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s"}
    ]

    dashboard_file = CHART / "dashboards" / "modelregistry.json"
    result = template("--set", "metrics.dashboard.enabled=true")
    if not dashboard_file.exists():
        assert result.returncode != 0
        assert (
            "metrics.dashboard.enabled: the chart has no dashboards/modelregistry.json"
            in result.stderr
        )
        return
    assert result.returncode == 0, result.stderr
    config_map = one([d for d in yaml.safe_load_all(result.stdout) if d], "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"] == {"modelregistry.json": dashboard_file.read_text()}


def test_every_setting_reaches_the_operator_as_it_reads_it(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "labelSelector": "shard=b",
                "logging": {"format": "json", "verbose": True},
                "s3": {
                    "endpoint": "https://s3.example.com",
                    "region": "eu-west-1",
                    "addressingStyle": "path",
                },
                # Values files hold numbers as floats: large ones must not reach the
                # operator in exponent form.
                "verification": {
                    "reverifyIntervalSeconds": 2592000,
                    "checkIntervalSeconds": 0.5,
                    "maxConcurrent": 3,
                    "fileWorkers": 8,
                },
                "retry": {"baseDelaySeconds": 0.25, "maxDelaySeconds": 5},
                "extraEnv": [{"name": "MODELREGISTRY_RETRY_MAX_DELAY", "value": "7"}],
            }
        )
    )
    documents = rendered("--values", str(values))
    [container] = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    # A name extraEnv sets replaces the chart's: server-side apply refuses a name twice.
    assert len(names) == len(set(names))
    assert container["args"] == ["run", "--verbose"]
    settings = Settings.from_environment(container_env(documents))
    assert settings.label_selector == "shard=b"
    assert settings.log_format == "json"
    assert settings.default_endpoint.url == "https://s3.example.com"
    assert settings.default_endpoint.region == "eu-west-1"
    assert settings.default_endpoint.addressing_style == "path"
    assert settings.reverify_interval.total_seconds() == 2592000
    assert settings.check_interval == 0.5
    assert settings.max_concurrent_verifications == 3
    assert settings.file_workers == 8
    assert settings.retry_base_delay == 0.25
    assert settings.retry_max_delay == 7


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--set", "replicas=two"), "at '/replicas': got string, want integer"),
        (("--set", "replicas=0"), "at '/replicas'"),
        (("--set", "rbac.scope=cluster-wide"), "at '/rbac/scope': value must be one of"),
        (("--set", "rbac.scope=namespaced"), "at '/watchNamespaces': minItems"),
        (
            ("--set", "rbac.scope=namespaced", "--set", "watchNamespaces={team-*}"),
            "at '/watchNamespaces/0'",
        ),
        (("--set", "logging.format=xml"), "at '/logging/format'"),
        (("--set", "image.pullPolicy=Sometimes"), "at '/image/pullPolicy'"),
        (("--set", "http.port=80"), "at '/http/port'"),
        (("--set", "verification.maxConcurrent=0"), "at '/verification/maxConcurrent'"),
        (
            ("--set", "verification.checkIntervalSeconds=0"),
            "at '/verification/checkIntervalSeconds'",
        ),
        (("--set", "s3.endpoint=s3.example.com"), "at '/s3/endpoint'"),
        (("--set", "validation.limits.gpu=1"), "at '/validation/limits'"),
        (("--set", "admission.extraOperators[0]=a'b"), "at '/admission/extraOperators/0'"),
        (("--set", "verbose=true"), "additional properties 'verbose' not allowed"),
    ],
)
def test_helm_refuses_a_wrong_value_naming_it(flags: tuple[str, ...], said: str) -> None:
    result = template(*flags)
    assert result.returncode != 0
    assert said in result.stderr, result.stderr


def test_without_the_schema_the_templates_still_refuse_a_namespaced_install_without_names() -> None:
    skip = "--skip-schema-validation"
    result = template(skip, "--set", "rbac.scope=namespaced")
    assert "watchNamespaces: rbac.scope namespaced needs at least one namespace" in result.stderr
    result = template(skip, "--set", "rbac.scope=namespaced", "--set", "watchNamespaces={team-*}")
    assert 'watchNamespaces: "team-*": rbac.scope namespaced needs namespace names' in result.stderr


def server_side_dry_run(cluster: Cluster, manifests: str) -> None:
    """Validated and admitted by the API server, stored nowhere. Server-side apply also
    refuses what a 3-way merge lets through (an env name twice); the session installed
    the CRDs and policies under another field manager, so conflicts are forced."""
    apply = ["apply", "--server-side", "--force-conflicts", "--field-manager=chart-test"]
    result = cluster.kubectl_run(
        *apply, "--dry-run=server", "-f", "-", stdin=manifests, check=False
    )
    assert result.returncode == 0, result.stderr


def test_cluster_mode_objects_pass_server_side_validation(cluster: Cluster, namespace: str) -> None:
    manifests = render_chart(
        cluster.api_client, namespace, "--include-crds", *sets(f"watchNamespaces={{{namespace}}}")
    )
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(manifests) if d)
    # The policies and their roles, as `make crds` generates them into templates/admission.yaml.
    policies = [m["kind"] for m in admission.manifests("operator")]
    assert kinds == sorted(
        ["CustomResourceDefinition"] * len(crdgen.KINDS)
        + policies
        + ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"]
        + ["Service", "Deployment", "PodDisruptionBudget"]
    )
    server_side_dry_run(cluster, manifests)


def test_namespaced_mode_objects_pass_server_side_validation(
    cluster: Cluster, namespace: str
) -> None:
    with temporary_namespace(cluster, "t-watched-") as watched:
        manifests = render_chart(
            cluster.api_client,
            namespace,
            *sets(
                "rbac.scope=namespaced",
                f"watchNamespaces={{{namespace},{watched}}}",
                "admission.install=false",
            ),
        )
        documents = [d for d in yaml.safe_load_all(manifests) if d]
        assert sorted(d["kind"] for d in documents) == sorted(
            ["Role", "RoleBinding"] * 3
            + ["ServiceAccount", "Service", "Deployment", "PodDisruptionBudget"]
        )
        assert {d["metadata"]["namespace"] for d in documents} == {namespace, watched}
        server_side_dry_run(cluster, manifests)


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
                "logging": {"verbose": True, "format": "json"},
                "apiServer": {"host": "kubernetes.default.svc", "port": "443"},
                "hostAliases": [{"ip": "10.213.0.1", "hostnames": ["kubernetes.default.svc"]}],
                "extraEnv": [{"name": "MODELREGISTRY_RETRY_BASE_DELAY", "value": "0.5"}],
                "envFrom": [{"configMapRef": {"name": "more-settings"}}],
                "serviceAccount": {"annotations": {"example.com/role": "registry"}},
                "podAnnotations": {"example.com/team": "ml-platform"},
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}],
                "priorityClassName": "system-cluster-critical",
            }
        )
    )
    manifests = render_chart(cluster.api_client, namespace, "--values", str(values))
    documents = [d for d in yaml.safe_load_all(manifests) if d]
    pod = one(documents, "Deployment")["spec"]["template"]["spec"]
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
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    account = one(documents, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"example.com/role": "registry"}
    result = cluster.kubectl_run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifests, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "PodSecurity" not in result.stderr, result.stderr


def test_the_validation_box_settings_reach_the_operator_and_its_rights_follow_them() -> None:
    documents = rendered(
        *sets(
            "validation.networkPolicy.storage[0].cidr=10.213.0.1/32",
            "validation.networkPolicy.storage[0].port=9000",
            "validation.networkPolicy.storage[1].cidr=10.0.0.0/24",
            "validation.networkPolicy.storage[1].port=443",
            "validation.maxLimits.memory=16Gi",
            "validation.runtimeClassName=gvisor",
            "validation.credentialsSecret=fetch-credentials",
            "validation.s3Endpoint=http://10.213.0.1:9000",
        )
    )
    settings = Settings.from_environment(container_env(documents))
    assert settings.validation_egress == (("10.213.0.1/32", 9000), ("10.0.0.0/24", 443))
    assert settings.validation_resources.maximum == {
        "cpu": "4",
        "ephemeral-storage": "10Gi",
        "memory": "16Gi",
    }
    assert settings.validation_runtime_class == "gvisor"
    assert settings.validation_network_policy is True
    assert settings.validation_dns == "kube-system/k8s-app=kube-dns"
    assert settings.validation_secret == "fetch-credentials"
    assert settings.validation_endpoint == "http://10.213.0.1:9000"
    role = rights(one(documents, "ClusterRole", "mr-operator"))
    assert role[("", "serviceaccounts")] == ["get", "create", "update"]
    assert role[("networking.k8s.io", "networkpolicies")] == ["get", "create", "update"]

    # Without the policy, the operator asks for no rights on NetworkPolicies.
    off = rendered("--set", "validation.networkPolicy.enabled=false")
    assert ("networking.k8s.io", "networkpolicies") not in rights(
        one(off, "ClusterRole", "mr-operator")
    )
    assert container_env(off)["MODELREGISTRY_VALIDATION_NETWORK_POLICY"] == "false"
