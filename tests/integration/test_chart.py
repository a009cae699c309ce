"""The Helm chart renders, lints, and its objects are accepted by a real API server."""

from __future__ import annotations

import pytest
import yaml

from modelregistry import crdgen
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
