"""Signatures and oci:// artifacts, as they stand: the operator does not check a signature of
an oci:// artifact, so the API server refuses one at apply, and a Model that requires
signatures keeps its oci:// versions out of Staging in words that say why and what to do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import kubernetes
import pytest

from modelregistry.localenv.ociregistry import OciRegistry
from tests.integration import ocipush
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, bind_cluster_role, impersonating

pytestmark = pytest.mark.integration

MALLORY = "mallory@example.com"
URI = "oci://registry.example.com/models/churn@sha256:" + "a" * 64


def test_a_signature_on_an_oci_artifact_is_refused_at_apply_naming_the_field_and_the_fix(
    cluster: Cluster, objects: Objects
) -> None:
    bind_cluster_role(cluster.api_client, objects.namespace, "edit", MALLORY)
    mallory = kubernetes.client.CustomObjectsApi(impersonating(cluster.api_client, MALLORY))
    signature = {"uri": "s3://models/churn/model.sig", "publicKey": {"name": "k", "key": "a.pub"}}
    body = {
        "apiVersion": "modelregistry.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "signed-oci"},
        "spec": {"modelRef": {"name": "churn"}, "artifact": {"uri": URI, "signature": signature}},
    }

    with pytest.raises(kubernetes.client.ApiException) as refused:
        mallory.create_namespaced_custom_object(
            "modelregistry.io", "v1alpha1", objects.namespace, "modelversions", body
        )

    assert refused.value.status == 422
    message = json.loads(str(refused.value.body))["message"]
    assert "spec.artifact.signature" in message
    assert (
        "the operator does not check signatures of oci:// artifacts yet; register the signed "
        "files and their bundle at an s3:// URI, or leave signature out" in message
    )


def test_a_model_requiring_signatures_keeps_an_oci_version_out_of_staging_saying_why(
    operator: OperatorProcess, objects: Objects, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    weights = tmp_path / "model.onnx"
    weights.write_bytes(os.urandom(4096))
    pushed = ocipush.modelpack(
        ocipush.client(oci_registry.host),
        f"{oci_registry.host}/models/signed:v1",
        [(weights, ocipush.MODELPACK_WEIGHT_RAW)],
        tmp_path,
    )
    objects.model(
        "churn", policy={"signing": {"required": True, "trustedKeys": ["sha256:" + "1" * 64]}}
    )
    objects.version(
        "churn-1",
        "churn",
        f"oci://{oci_registry.host}/models/signed@{pushed.digest}",
        artifact={"registry": {"plainHttp": True}},
        stage="Staging",
    )

    refused = objects.wait_condition(
        "churn-1", "StageGranted", "False", "SignatureRequired", on_timeout=operator.log_tail
    )

    assert objects.present_condition("churn-1", "ArtifactVerified")["status"] == "True"
    assert "the operator does not check signatures of oci:// artifacts yet" in refused["message"]
    assert "at an s3:// URI, as a new ModelVersion" in refused["message"]
    assert objects.get("modelversions", "churn-1")["status"].get("stage") == "None"
