"""The Helm chart renders, lints, and its objects are accepted by a real API server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from modelregistry import crdgen
from modelregistry.localenv import find_tool
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[2] / "charts" / "modelregistry"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_tool("helm")), *args], capture_output=True, text=True, check=True, timeout=120
    )


def test_chart_lints() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART)).stdout


def test_chart_objects_pass_server_side_validation(cluster: Cluster, namespace: str) -> None:
    rendered = helm("template", "mr", str(CHART), "--namespace", namespace, "--include-crds").stdout
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
