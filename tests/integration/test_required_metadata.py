"""Required metadata on the real API server: refused at `kubectl apply` by the admission policy
evaluated against the version's own Model; what the policy leaves out (and a version created
before its Model) marked by the operator and never promoted.

People act as themselves (impersonated): the policy judges what is applied, not who applies
it, and reads the Model with the API server's own rights, not the requester's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest
import yaml

from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, bind_cluster_role, wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

GROUP, VERSION = "modelregistry.io", "v1alpha1"
POLICY = "ValidatingAdmissionPolicy 'modelregistry-required-metadata'"
LABEL = "modelregistry.io/required-metadata"
REQUIRED = [
    "lineage.datasets[].version",
    "metrics.f1",
    "featureRetrieval",
    "signature",
    "modelCard.intendedUse",
    "hyperparameters.algorithm",
]
COMPLETE: dict[str, Any] = {
    "lineage": {"datasets": [{"name": "orders", "version": "2026-11"}]},
    "metrics": {"f1": 0.81},
    "featureRetrieval": {"featureService": "churn_v2"},
    "signature": {"inputs": [{"name": "tenure", "dtype": "float64"}]},
    "modelCard": {"intendedUse": "weekly churn triage"},
    "hyperparameters": {"algorithm": "xgboost"},
}


def manifest(name: str, model: str, uri: str = "s3://models/x.bin", **spec: Any) -> str:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {"modelRef": {"name": model}, "artifact": {"uri": uri}, **spec},
    }
    return yaml.safe_dump(body)


def apply(cluster: Cluster, namespace: str, text: str, *flags: str) -> tuple[int, str]:
    """`kubectl apply`, as a person or a GitOps tool runs it: exit code and what it said."""
    done = cluster.kubectl_run("apply", "-n", namespace, "-f", "-", *flags, stdin=text, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def lacking(version: str, model: str, *paths: str) -> str:
    return (
        f"ModelVersion {version} lacks what Model {model} requires of every version "
        f"(spec.policy.requiredMetadata): {', '.join(paths)}. Set them in its spec"
    )


def refused_once_the_policy_sees(cluster: Cluster, namespace: str, text: str) -> str:
    """The API server's policy learns of a new Model from its own watch: wait for that."""

    def refused() -> str | None:
        code, said = apply(cluster, namespace, text, "--dry-run=server")
        return said if code != 0 else None

    said: str = wait_until(refused, timeout=30, what="the policy to see the Model")
    return said


def requiring(objects: Objects, name: str, paths: list[str]) -> None:
    """A Model that requires `paths`, with the label that makes it the policy's parameter."""
    objects.create(
        "models",
        {
            "kind": "Model",
            "metadata": {"name": name, "labels": {LABEL: "true"}},
            "spec": {"policy": {"requiredMetadata": paths}},
        },
    )


def test_a_model_may_require_only_paths_into_a_version_s_spec(
    cluster: Cluster, namespace: str
) -> None:
    model: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": {"name": "churn", "labels": {LABEL: "true"}},
        "spec": {"policy": {"requiredMetadata": ["modelcard.intendedUse", "metrics.f1"]}},
    }

    code, said = apply(cluster, namespace, yaml.safe_dump(model))

    assert code != 0
    assert "spec.policy.requiredMetadata: Invalid value: each entry must be a path into a " in said
    model["spec"]["policy"]["requiredMetadata"] = REQUIRED
    assert apply(cluster, namespace, yaml.safe_dump(model))[0] == 0


def test_a_model_that_requires_metadata_carries_the_label_that_makes_it_a_parameter(
    cluster: Cluster, namespace: str
) -> None:
    """Without the label the binding would not select it, and its versions would be admitted
    unjudged: so the API server refuses such a Model, and the label's removal."""
    model: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Model",
        "metadata": {"name": "churn"},
        "spec": {"policy": {"requiredMetadata": ["metrics.f1"]}},
    }
    fix = (
        "Model churn sets spec.policy.requiredMetadata, so it must carry the label "
        f"{LABEL}=true (metadata.labels)"
    )

    code, said = apply(cluster, namespace, yaml.safe_dump(model))

    assert code != 0
    assert "ValidatingAdmissionPolicy 'modelregistry-required-metadata-label'" in said
    assert fix in said and f"kubectl label model churn {LABEL}=true" in said
    # Created without a policy, then given one: the same.
    model["spec"] = {}
    assert apply(cluster, namespace, yaml.safe_dump(model))[0] == 0
    done = cluster.kubectl_run(
        "patch",
        "-n",
        namespace,
        "model",
        "churn",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"policy": {"requiredMetadata": ["metrics.f1"]}}}),
        check=False,
    )
    assert done.returncode != 0 and fix in done.stderr
    # Labelled, it is a parameter: a version that lacks the path is refused.
    cluster.kubectl_run("label", "-n", namespace, "model", "churn", f"{LABEL}=true")
    cluster.kubectl_run(
        "patch",
        "-n",
        namespace,
        "model",
        "churn",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"policy": {"requiredMetadata": ["metrics.f1"]}}}),
    )
    said = refused_once_the_policy_sees(cluster, namespace, manifest("churn-1", "churn"))
    assert lacking("churn-1", "churn", "metrics.f1") in said
    # And the label cannot be taken off while the policy names anything.
    done = cluster.kubectl_run("label", "-n", namespace, "model", "churn", f"{LABEL}-", check=False)
    assert done.returncode != 0 and fix in done.stderr


def test_apply_is_refused_naming_every_missing_field_and_a_complete_version_is_admitted(
    cluster: Cluster, namespace: str, objects: Objects
) -> None:
    requiring(objects, "churn", REQUIRED)
    # Other labelled Models are parameters too; each judges only its own versions.
    objects.model("fraud")
    requiring(objects, "ranker", ["metrics.ndcg"])
    partial = manifest(
        "churn-1",
        "churn",
        metrics={"auc": 0.9},
        lineage={"datasets": [{"name": "orders", "version": "1"}, {"name": "returns"}]},
        hyperparameters={"algorithm": ""},
    )

    said = refused_once_the_policy_sees(cluster, namespace, partial)
    code, applied = apply(cluster, namespace, partial)

    assert code != 0
    for text in (said, applied):
        assert f"{POLICY} with binding 'modelregistry-required-metadata' denied request" in text
        assert lacking("churn-1", "churn", *REQUIRED) in text
    assert "is forbidden" in applied
    assert apply(cluster, namespace, manifest("churn-1", "churn", **COMPLETE))[0] == 0
    assert apply(cluster, namespace, manifest("fraud-1", "fraud"))[0] == 0
    # generateName: the name is given before the policy runs, and the message has it.
    generated = yaml.safe_load(manifest("x", "churn"))
    generated["metadata"] = {"generateName": "churn-"}
    done = cluster.kubectl_run(
        "create", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(generated), check=False
    )
    assert done.returncode != 0
    assert "ModelVersion churn-" in done.stderr and "lacks what Model churn" in done.stderr


def test_who_applies_does_not_matter(cluster: Cluster, namespace: str, objects: Objects) -> None:
    """An editor, a pipeline that may create versions but read no Model, and cluster-admin:
    refused alike, with the same message."""
    requiring(objects, "churn", ["metrics.f1", "signature"])
    bind_cluster_role(cluster.api_client, namespace, "edit", "carol")
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    rbac.create_namespaced_role(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "registers-versions"},
                "rules": [
                    {"apiGroups": [GROUP], "resources": ["modelversions"], "verbs": ["create"]}
                ],
            },
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "pipeline-registers-versions"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "registers-versions",
                },
                "subjects": [
                    {
                        "kind": "ServiceAccount",
                        "name": "pipeline",
                        "namespace": namespace,
                    }
                ],
            },
        ),
    )
    pipeline = f"system:serviceaccount:{namespace}:pipeline"
    text = manifest("churn-1", "churn", metrics={"f1": 0.8})
    refused_once_the_policy_sees(cluster, namespace, text)
    assert (
        cluster.kubectl_run(
            "auth", "can-i", "get", "models", "-n", namespace, "--as", pipeline, check=False
        ).stdout.strip()
        == "no"
    )

    for who in ([], ["--as", "carol"], ["--as", pipeline]):
        done = cluster.kubectl_run(
            "create", "-n", namespace, "-f", "-", *who, stdin=text, check=False
        )
        assert done.returncode != 0, who
        assert lacking("churn-1", "churn", "signature") in done.stderr, who
    complete = manifest("churn-1", "churn", metrics={"f1": 0.8}, signature={})
    assert (
        cluster.kubectl_run(
            "create", "-n", namespace, "-f", "-", "--as", pipeline, stdin=complete, check=False
        ).returncode
        == 0
    )


def registered(
    s3_client: S3Client, bucket: str, objects: Objects, name: str, model: str, **spec: Any
) -> None:
    s3_client.put_object(Bucket=bucket, Key=f"{name}.bin", Body=name.encode())
    objects.version(name, model, f"s3://{bucket}/{name}.bin", **spec)


def stage_of(objects: Objects, name: str) -> str | None:
    return cast(str | None, (objects.get("modelversions", name).get("status") or {}).get("stage"))


def test_paths_the_policy_leaves_out_are_refused_by_the_operator_with_a_condition(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    # Every check names a memory limit: a map in a list, which the admission policy leaves out.
    required = ["metrics.f1", "validation.checks[].resources.limits.memory"]
    requiring(objects, "churn", required)
    refused_once_the_policy_sees(cluster, namespace, manifest("churn-0", "churn"))
    checks = [{"name": "metrics", "builtin": "metrics", "thresholds": ["f1 >= 0.5"]}]
    registered(
        s3_client,
        bucket,
        objects,
        "churn-1",
        "churn",
        metrics={"f1": 0.8},
        validation={"checks": checks},
        stage="Staging",
    )

    marked = objects.wait_condition(
        "churn-1", "MetadataComplete", "False", "MetadataIncomplete", on_timeout=operator.log_tail
    )
    assert marked["message"] == (
        "Model 'churn' requires metrics.f1, validation.checks[].resources.limits.memory of "
        "every version (spec.policy.requiredMetadata), and the spec lacks "
        "validation.checks[].resources.limits.memory. What a version registered cannot change: "
        "register a new version that sets them. This one keeps the stage it holds and is not "
        "promoted to Staging or Production."
    )
    refused = objects.wait_condition(
        "churn-1", "StageGranted", "False", "MetadataMissing", on_timeout=operator.log_tail
    )
    assert "the spec lacks validation.checks[].resources.limits.memory" in refused["message"]
    # Its bytes and checks are fine: usable, and not promoted.
    objects.wait_condition("churn-1", "Ready", "True")
    assert stage_of(objects, "churn-1") == "None"
    assert any(e["reason"] == "MetadataIncomplete" for e in objects.events("churn-1"))

    limited = [{**checks[0], "resources": {"limits": {"memory": "256Mi"}}}]
    registered(
        s3_client,
        bucket,
        objects,
        "churn-2",
        "churn",
        metrics={"f1": 0.8},
        validation={"checks": limited},
        stage="Staging",
    )
    wait_until(lambda: stage_of(objects, "churn-2") == "Staging", what="churn-2 in Staging")
    complete = objects.present_condition("churn-2", "MetadataComplete")
    assert (complete["status"], complete["reason"]) == ("True", "MetadataPresent")


def test_a_version_created_before_its_model_is_kept_marked_and_not_promoted(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    # No Model: the policy has no parameter, and admits it.
    registered(s3_client, bucket, objects, "churn-1", "churn", stage="Production")
    objects.wait_condition("churn-1", "ModelFound", "False", "ModelNotFound")

    requiring(objects, "churn", ["signature", "metrics.f1"])

    marked = objects.wait_condition(
        "churn-1", "MetadataComplete", "False", "MetadataIncomplete", on_timeout=operator.log_tail
    )
    assert "the spec lacks signature, metrics.f1" in marked["message"]
    refused = objects.wait_condition(
        "churn-1", "StageGranted", "False", "MetadataMissing", on_timeout=operator.log_tail
    )
    assert refused["message"] == (
        "Production needs what Model 'churn' requires of every version "
        "(spec.policy.requiredMetadata), and the spec lacks signature, metrics.f1: register a "
        "new version that sets them."
    )
    objects.wait_condition("churn-1", "Ready", "True")
    assert stage_of(objects, "churn-1") == "None"
    # Not deleted; and the same spec is refused from now on.
    assert objects.get("modelversions", "churn-1")["metadata"]["name"] == "churn-1"
    said = refused_once_the_policy_sees(cluster, namespace, manifest("churn-9", "churn"))
    assert lacking("churn-9", "churn", "signature", "metrics.f1") in said

    registered(
        s3_client,
        bucket,
        objects,
        "churn-2",
        "churn",
        stage="Production",
        signature={},
        metrics={"f1": 0.7},
    )
    wait_until(
        lambda: stage_of(objects, "churn-2") == "Production",
        what="churn-2 in Production",
        on_timeout=operator.log_tail,
    )
    assert stage_of(objects, "churn-1") == "None"
    events = objects.events("churn-1")
    assert any(e["reason"] == "MetadataIncomplete" for e in events), json.dumps(events)
