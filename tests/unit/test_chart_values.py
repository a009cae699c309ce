"""The chart's values: the schema holds them, describes nothing else, and every one is documented.

The same schema refuses wrong values at `helm install`; tests/integration/test_chart.py
checks that through helm itself. Here the schema is read as JSON Schema draft 7 (what
Helm reads), so its rules are checked without any tool.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Installed with hypothesis-jsonschema (a dev dependency); it ships no type stubs.
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelregistry"
VALUES_FILE = CHART / "values.yaml"
DOCS = ROOT / "docs" / "chart.md"

Values = dict[str, Any]


def defaults() -> Values:
    values: Values = yaml.safe_load(VALUES_FILE.read_text())
    return values


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def merged(overrides: Values, base: Values | None = None) -> Values:
    """`overrides` over the defaults, as Helm merges them (maps deep, the rest replaced)."""
    result = copy.deepcopy(defaults() if base is None else base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict) and value:
            result[key] = merged(value, result[key])
        else:
            result[key] = value
    return result


def refused_at(values: Values) -> set[str]:
    """The paths (`a.b.0`) of every value the schema refuses, nested errors included."""
    paths: set[str] = set()

    def collect(errors: Any) -> None:
        for error in errors:
            paths.add(".".join(str(p) for p in error.absolute_path))
            collect(error.context or [])

    collect(jsonschema.Draft7Validator(schema()).iter_errors(values))
    return paths


def leaves(values: Values, prefix: str = "") -> Iterator[str]:
    """Every value's path: maps are walked, except empty ones; lists are values."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{path}.")
        else:
            yield path


def schema_paths(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{key}"
        yield path
        yield from schema_paths(sub, f"{path}.")


def described(path: str) -> bool:
    """Whether the schema has a rule for the value at `path`."""
    node = schema()
    for key in path.split("."):
        properties = node.get("properties") or {}
        if key in properties:
            node = properties[key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


def test_the_schema_is_draft_7_and_the_defaults_meet_it() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    assert schema()["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert refused_at(defaults()) == set()


def test_every_value_has_a_rule_and_every_rule_a_default() -> None:
    values = defaults()
    missing = [path for path in leaves(values) if not described(path)]
    assert missing == []
    known = set(leaves(values)) | {p for leaf in leaves(values) for p in _ancestors(leaf)}
    assert [path for path in schema_paths(schema()) if path not in known] == []


def _ancestors(path: str) -> Iterator[str]:
    parts = path.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


@pytest.mark.skipif(not DOCS.exists(), reason="docs/chart.md is not in this copy")
def test_every_value_is_listed_in_the_docs() -> None:
    documented = set(re.findall(r"`([A-Za-z][\w.-]*)`", DOCS.read_text()))

    def listed(path: str) -> bool:
        # A map of quantities or of names is listed once (`validation.requests`).
        return path in documented or any(a in documented for a in _ancestors(path) if "." in a)

    assert [path for path in leaves(defaults()) if not listed(path)] == []


def test_every_value_is_commented_in_values_yaml() -> None:
    """Each value has a comment on its line or right above it, or one of its sections has."""
    lines = VALUES_FILE.read_text().splitlines()
    sections: list[tuple[int, str, bool]] = []
    uncommented = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w-]*):(.*)$", line)
        if not match:
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while sections and sections[-1][0] >= indent:
            sections.pop()
        own = "#" in rest or (number > 0 and lines[number - 1].strip().startswith("#"))
        if rest.split("#")[0].strip():  # a value, not a section
            if not own and not any(c for _, _, c in sections):
                uncommented.append(".".join([k for _, k, _ in sections] + [key]))
        else:
            sections.append((indent, key, own))
    assert uncommented == []


def test_a_namespaced_install_with_named_namespaces_is_accepted() -> None:
    values = merged({"rbac": {"scope": "namespaced"}, "watchNamespaces": ["team-a", "team-b"]})
    assert refused_at(values) == set()
    values = merged({"admission": {"install": False}}, values)
    assert refused_at(values) == set()


def test_patterns_are_accepted_where_a_cluster_role_covers_them() -> None:
    assert refused_at(merged({"watchNamespaces": ["team-*,!team-test", "ml"]})) == set()


def test_registries_are_hosts_with_ports_and_their_endpoints_optional() -> None:
    registries = [
        {"registry": "registry.example.com"},
        {"registry": "127.0.0.1:5000", "endpoint": "10.0.0.1:31500"},
        {"registry": "[fd00::1]:5000", "endpoint": ""},
    ]
    assert refused_at(merged({"validation": {"registries": registries}})) == set()


def test_seconds_may_be_strings_as_set_passes_them() -> None:
    values = merged(
        {"verification": {"checkIntervalSeconds": "0.5"}, "retry": {"maxDelaySeconds": 2}}
    )
    assert refused_at(values) == set()


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"replicas": 0}, "replicas"),
        ({"replicas": "two"}, "replicas"),
        ({"rbac": {"scope": "cluster-wide"}}, "rbac.scope"),
        ({"rbac": {"scope": "namespaced"}}, "watchNamespaces"),
        ({"rbac": {"scope": "namespaced"}, "watchNamespaces": ["team-*"]}, "watchNamespaces.0"),
        ({"rbac": {"scope": "namespaced"}, "watchNamespaces": ["Team_A"]}, "watchNamespaces.0"),
        ({"watchNamespaces": ["a b"]}, "watchNamespaces.0"),
        ({"watchNamespaces": ["a", "a"]}, "watchNamespaces"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"image": {"tag": "has space"}}, "image.tag"),
        ({"logging": {"format": "xml"}}, "logging.format"),
        ({"logging": {"verbose": "yes"}}, "logging.verbose"),
        ({"http": {"port": 80}}, "http.port"),
        ({"http": {"port": 70000}}, "http.port"),
        ({"verification": {"maxConcurrent": 0}}, "verification.maxConcurrent"),
        ({"verification": {"fileWorkers": 1.5}}, "verification.fileWorkers"),
        ({"verification": {"checkIntervalSeconds": 0}}, "verification.checkIntervalSeconds"),
        (
            {"verification": {"reverifyIntervalSeconds": "soon"}},
            "verification.reverifyIntervalSeconds",
        ),
        ({"retry": {"baseDelaySeconds": -1}}, "retry.baseDelaySeconds"),
        ({"s3": {"endpoint": "s3.example.com"}}, "s3.endpoint"),
        ({"s3": {"addressingStyle": "dns"}}, "s3.addressingStyle"),
        ({"s3": {"credentialsSecret": "Not_A_Name"}}, "s3.credentialsSecret"),
        ({"s3": {"bucket": "models"}}, "s3"),
        ({"leaderElection": {"enabled": False}}, "leaderElection"),
        ({"leaderElection": {"leaseName": "Lease!"}}, "leaderElection.leaseName"),
        ({"metrics": {"serviceMonitor": {"enabled": "true"}}}, "metrics.serviceMonitor.enabled"),
        ({"metrics": {"serviceMonitor": {"interval": "30"}}}, "metrics.serviceMonitor.interval"),
        ({"metrics": {"dashboard": {"annotations": {"a": 1}}}}, "metrics.dashboard.annotations.a"),
        ({"resources": {"limits": {"memory": "lots"}}}, "resources.limits.memory"),
        ({"resources": {"requsts": {}}}, "resources"),
        ({"podDisruptionBudget": {"minAvailable": 2}}, "podDisruptionBudget"),
        ({"nodeSelector": {"disk": True}}, "nodeSelector.disk"),
        ({"apiServer": {"port": "https"}}, "apiServer.port"),
        ({"hostAliases": [{"hostnames": ["x"]}]}, "hostAliases.0"),
        ({"extraEnv": [{"name": "A", "value": 1}]}, "extraEnv.0.value"),
        ({"extraEnv": [{"value": "1"}]}, "extraEnv.0"),
        ({"validation": {"limits": {"gpu": "1"}}}, "validation.limits"),
        ({"validation": {"maxLimits": {"memory": "8 GB"}}}, "validation.maxLimits.memory"),
        ({"validation": {"scratchSize": "big"}}, "validation.scratchSize"),
        ({"validation": {"networkPolicy": {"dns": "kube-dns"}}}, "validation.networkPolicy.dns"),
        (
            {"validation": {"networkPolicy": {"storage": [{"cidr": "10.0.0.0/8"}]}}},
            "validation.networkPolicy.storage.0",
        ),
        (
            {"validation": {"networkPolicy": {"storage": [{"cidr": "s3", "port": 443}]}}},
            "validation.networkPolicy.storage.0.cidr",
        ),
        ({"validation": {"serviceAccountName": ""}}, "validation.serviceAccountName"),
        (
            {"validation": {"registries": [{"registry": "https://registry.example.com"}]}},
            "validation.registries.0.registry",
        ),
        (
            {"validation": {"registries": [{"registry": "r.example.com", "endpoint": "r:x"}]}},
            "validation.registries.0.endpoint",
        ),
        ({"validation": {"registries": [{"endpoint": "10.0.0.1"}]}}, "validation.registries.0"),
        (
            {"validation": {"registries": [{"registry": "r.example.com", "port": 5000}]}},
            "validation.registries.0",
        ),
        ({"validation": {"registries": {"r.example.com": ""}}}, "validation.registries"),
        ({"admission": {"install": "no"}}, "admission.install"),
        # Each name goes into a CEL string literal and a comma-separated annotation.
        ({"admission": {"extraOperators": ["x', 'y"]}}, "admission.extraOperators.0"),
        ({"admission": {"extraOperators": ["a,b"]}}, "admission.extraOperators.0"),
        ({"kserve": {"storageContainer": {"enabled": "yes"}}}, "kserve.storageContainer.enabled"),
        (
            {"kserve": {"storageContainer": {"s3Endpoint": "minio:9000"}}},
            "kserve.storageContainer.s3Endpoint",
        ),
        (
            {"kserve": {"storageContainer": {"resources": {"limits": {"memory": "1 GB"}}}}},
            "kserve.storageContainer.resources.limits.memory",
        ),
        ({"kserve": {"clusterStorageContainer": True}}, "kserve"),
        ({"verbose": True}, ""),
    ],
)
def test_a_wrong_value_is_refused_by_its_name(overrides: Values, path: str) -> None:
    assert path in refused_at(merged(overrides))
