"""Rules the API server enforces from the CRDs: schema, formats, immutability."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from tests.integration.conftest import Cluster
from tests.integration.support import Objects

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32


def manifest(name: str, spec: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: modelregistry.io/v1alpha1
        kind: ModelVersion
        metadata:
          name: {name}
        spec:
        """
    ) + textwrap.indent(textwrap.dedent(spec), "  ")


def apply(
    cluster: Cluster, namespace: str, text: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl_run("apply", "-n", namespace, "-f", "-", stdin=text, check=check)


VALID = f"""\
    modelRef: {{name: fraud}}
    version: 4
    artifact:
      uri: s3://models/fraud/4/model.onnx
      digest: {DIGEST}
    lineage:
      datasets: [{{name: transactions, version: "2026-11-01"}}]
      code: {{repository: https://git.example.com/fraud, commit: 0a1b2c3d}}
    metrics: {{auc: 0.91}}
"""


@pytest.mark.parametrize(
    ("spec", "field", "hint"),
    [
        (VALID.replace(DIGEST, "sha256:1234"), "spec.artifact.digest", "sha256"),
        (VALID.replace("s3://models", "ftp://models"), "spec.artifact.uri", "s3://"),
        (VALID.replace("version: 4", "version: 0"), "spec.version", "1"),
        (
            VALID.replace("modelRef: {name: fraud}", "modelRef: {name: Fraud_Model}"),
            "spec.modelRef.name",
            "",
        ),
        (VALID.replace("    metrics:", "    metricz:"), "metricz", "unknown field"),
        (VALID.replace("commit: 0a1b2c3d", "commit: main"), "spec.lineage.code.commit", ""),
        (VALID.replace("    modelRef: {name: fraud}\n", ""), "spec.modelRef", "Required"),
    ],
)
def test_malformed_manifests_are_refused_naming_the_field(
    cluster: Cluster, namespace: str, spec: str, field: str, hint: str
) -> None:
    result = apply(cluster, namespace, manifest("bad", spec))
    assert result.returncode != 0, result.stdout
    assert field in result.stderr, result.stderr
    assert hint in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (VALID.replace(DIGEST, "sha256:" + "cd" * 32), "spec.artifact"),
        (VALID.replace("auc: 0.91", "auc: 0.99"), "spec.metrics"),
        (VALID.replace("version: 4", "version: 5"), "spec.version"),
        (VALID.replace('version: "2026-11-01"', 'version: "2026-11-02"'), "spec.lineage"),
        (VALID.replace("modelRef: {name: fraud}", "modelRef: {name: other}"), "spec.modelRef"),
        (VALID + "    modelCard: {summary: rewritten later}\n", "spec.modelCard"),
    ],
)
def test_immutable_fields_are_refused_by_the_api_server(
    cluster: Cluster, namespace: str, change: str, field: str
) -> None:
    apply(cluster, namespace, manifest("fraud-4", VALID), check=True)
    result = apply(cluster, namespace, manifest("fraud-4", change))
    assert result.returncode != 0, result.stdout
    assert f"{field} is immutable" in result.stderr, result.stderr


def test_mutable_fields_can_change(cluster: Cluster, namespace: str, objects: Objects) -> None:
    apply(cluster, namespace, manifest("fraud-4", VALID), check=True)
    changed = VALID + "    stage: Staging\n    description: candidate for the Q4 launch\n"
    apply(cluster, namespace, manifest("fraud-4", changed), check=True)
    spec = objects.get("modelversions", "fraud-4")["spec"]
    assert spec["stage"] == "Staging"
    assert spec["metrics"] == {"auc": 0.91}


def test_adding_lineage_later_is_refused(cluster: Cluster, namespace: str) -> None:
    without = VALID.split("    lineage:")[0] + "    metrics: {auc: 0.91}\n"
    apply(cluster, namespace, manifest("late-lineage", without), check=True)
    result = apply(cluster, namespace, manifest("late-lineage", VALID))
    assert "spec.lineage is immutable" in result.stderr, result.stderr


def test_kubectl_explain_teaches_the_fields(cluster: Cluster) -> None:
    text = cluster.kubectl_run("explain", "modelversion.spec.artifact").stdout
    assert "modelregistry digest" in text
    assert "digest" in text and "uri" in text and "storage" in text
    short = cluster.kubectl_run("get", "mv", "-A").returncode
    assert short == 0
