"""A Model's policy on the real API server: aliases, the version limit, retention and delete
protection, concurrent counters, and GitOps that sees no drift."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest

from modelregistry.cluster import Cluster as ApiCluster
from modelregistry.reconciler.index import Catalog, version_entry
from modelregistry.reconciler.numbering import Numbering
from tests.integration.conftest import Cluster
from tests.integration.support import Objects, OperatorProcess, ready_version, wait_until
from tests.integration.test_lifecycle import ask, stage_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

GROUP, VERSION = "modelregistry.io", "v1alpha1"


def model_status(objects: Objects, name: str = "clf") -> dict[str, Any]:
    return cast(dict[str, Any], objects.get("models", name).get("status") or {})


def model_condition(objects: Objects, condition_type: str) -> dict[str, Any] | None:
    return next(
        (c for c in model_status(objects).get("conditions", []) if c["type"] == condition_type),
        None,
    )


def test_an_alias_resolves_to_the_verified_bytes_and_moves(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model("clf", aliases={"champion": 1})
    ready_version(objects, s3_client, bucket, "clf-1", "clf", version=1)
    ready_version(objects, s3_client, bucket, "clf-2", "clf", version=2)

    def resolved(alias: str) -> Any:
        return (model_status(objects).get("resolved") or {}).get(alias)

    first = wait_until(lambda: resolved("champion"), what="champion resolved")
    verified = objects.get("modelversions", "clf-1")["status"]["artifact"]
    assert first == {
        "version": 1,
        "name": "clf-1",
        "stage": "None",
        "uri": verified["uri"],
        "digest": verified["digest"],
        "versionId": verified["versionId"],
    }

    objects.api.patch_namespaced_custom_object(
        GROUP, VERSION, objects.namespace, "models", "clf", {"spec": {"aliases": {"champion": 2}}}
    )
    wait_until(lambda: (resolved("champion") or {}).get("name") == "clf-2", what="the move")

    objects.api.patch_namespaced_custom_object(
        GROUP, VERSION, objects.namespace, "models", "clf", {"spec": {"aliases": {"champion": 9}}}
    )
    unresolved = wait_until(
        lambda: (c := model_condition(objects, "AliasesResolved")) and c["status"] == "False" and c,
        what="AliasesResolved=False",
    )
    assert unresolved["message"] == (
        "alias 'champion' points at version 9, which does not exist. Point the alias at a Ready "
        "version in spec.aliases."
    )
    assert resolved("champion") is None


def test_the_version_limit_archives_the_oldest_idle_versions_of_a_quick_burst(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    limit, count = 10, 200
    objects.model("clf", policy={"versionLimit": limit}, aliases={"pinned": 1})
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    for i in range(1, count + 1):
        objects.version(f"clf-{i:03d}", "clf", f"s3://{bucket}/m.bin", version=i)

    def stages() -> dict[str, str]:
        listing = cast(
            dict[str, Any],
            objects.api.list_namespaced_custom_object(
                GROUP, VERSION, objects.namespace, "modelversions"
            ),
        )
        return {
            i["metadata"]["name"]: (i.get("status") or {}).get("stage") or "-"
            for i in listing["items"]
        }

    def settled() -> bool:
        found = stages()
        return sum(s != "Archived" for s in found.values()) == limit and "-" not in found.values()

    wait_until(
        settled, timeout=300, interval=1, what="the limit to hold", on_timeout=operator.log_tail
    )
    found = stages()
    active = sorted(n for n, s in found.items() if s != "Archived")
    # The aliased version 1 is spared; the newest nine are kept with it.
    assert active == ["clf-001", *(f"clf-{i:03d}" for i in range(192, 201))]
    archived = objects.present_condition("clf-100", "StageGranted")
    assert (archived["status"], archived["reason"]) == ("False", "VersionLimit")
    assert objects.present_condition("clf-100", "Ready")["status"] == "True"
    entry = objects.get("modelversions", "clf-100")["status"]["history"][-1]
    assert (entry["from"], entry["to"], entry["reason"], entry["actor"]) == (
        "None",
        "Archived",
        "VersionLimit",
        "policy:versionLimit",
    )
    # An archived version comes back when asked for a stage (and the gates pass).
    ask(objects, "clf-100", "Staging")
    wait_until(lambda: stage_of(objects, "clf-100") == "Staging", what="clf-100 back")


def refused(call: Any) -> str:
    with pytest.raises(kubernetes.client.exceptions.ApiException) as error:
        call()
    assert error.value.status in (403, 422)
    return str(json.loads(str(error.value.body))["message"])


def test_production_and_retained_versions_cannot_be_deleted_nor_their_model(
    operator: OperatorProcess, objects: Objects, s3_client: S3Client, bucket: str
) -> None:
    objects.model("clf", policy={"archivedRetentionDays": 2555})  # about 7 years
    ready_version(objects, s3_client, bucket, "clf-1", "clf", stage="Production")
    ready_version(objects, s3_client, bucket, "clf-2", "clf", stage="Archived")
    wait_until(lambda: stage_of(objects, "clf-1") == "Production", what="Production")
    protection = wait_until(
        lambda: objects.get("modelversions", "clf-2")["status"].get("deletionProtection"),
        what="retention",
    )
    assert protection["reason"] == "Retention"

    def delete(plural: str, name: str) -> None:
        objects.api.delete_namespaced_custom_object(GROUP, VERSION, objects.namespace, plural, name)

    said = refused(lambda: delete("modelversions", "clf-1"))
    assert said == (
        'modelversions.modelregistry.io "clf-1" is forbidden: '
        "ValidatingAdmissionPolicy 'modelregistry-deletion' with binding "
        "'modelregistry-deletion' denied request: ModelVersion clf-1 holds Production and "
        "cannot be deleted: move another version to Production, or set spec.stage to Archived "
        "first"
    )
    said = refused(lambda: delete("modelversions", "clf-2"))
    assert said.endswith(
        "ModelVersion clf-2 is archived and kept by its Model's retention policy "
        f"(policy.archivedRetentionDays): it can be deleted from {protection['until']}"
    )
    wait_until(lambda: model_status(objects).get("protectedVersions") == 2, what="the count")
    said = refused(lambda: delete("models", "clf"))
    assert said.endswith(
        "Model clf has 2 protected versions (in Production, in use, or archived and "
        "within retention): it can be deleted once none is"
    )
    # An unprotected version goes as usual.
    ready_version(objects, s3_client, bucket, "clf-3", "clf")
    delete("modelversions", "clf-3")


def test_two_operators_counters_write_at_once_and_numbers_stay_unique(
    cluster: Cluster, objects: Objects, bucket: str
) -> None:
    """Two counters (as two replicas would hold) number versions of one Model at the same
    time, each with the Model's resourceVersion as precondition: one write meets a real 409."""
    objects.model("race")
    bodies = [objects.version(f"race-{i}", "race", f"s3://{bucket}/m.bin") for i in range(20)]

    async def number_all() -> list[int]:
        clusters = [ApiCluster.connect(), ApiCluster.connect()]
        try:
            catalogs = [Catalog({}, {}) for _ in clusters]
            counters = [Numbering(c, cat) for c, cat in zip(clusters, catalogs, strict=True)]
            jobs = []
            for i, body in enumerate(bodies):
                counter = counters[i % 2]
                entry = version_entry(body)
                assert entry is not None
                jobs.append(counter.settle(body, entry.claim, "race"))
            decisions = await asyncio.gather(*jobs)
            assert sum(c.writes for c in counters) >= 2
            assert sum(c.conflicts for c in counters) >= 1, "no write met another's"
            return [d.version for d in decisions if d is not None and d.version is not None]
        finally:
            for c in clusters:
                await c.close()

    with kubeconfig_of(cluster):
        numbers = asyncio.run(number_all())
    assert sorted(numbers) == sorted(set(numbers))
    assert len(numbers) == 20


class kubeconfig_of:
    """KUBECONFIG pointing at the session's cluster while the block runs."""

    def __init__(self, cluster: Cluster) -> None:
        self._path = str(cluster.kubeconfig)

    def __enter__(self) -> None:
        import os

        self._old = os.environ.get("KUBECONFIG")
        os.environ["KUBECONFIG"] = self._path

    def __exit__(self, *_: object) -> None:
        import os

        if self._old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = self._old


def test_reapplying_the_same_manifests_changes_nothing_and_spec_is_never_the_operators(
    operator: OperatorProcess,
    cluster: Cluster,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    s3_client.put_object(Bucket=bucket, Key="m.bin", Body=b"weights")
    manifest = f"""
apiVersion: modelregistry.io/v1alpha1
kind: Model
metadata: {{name: clf, namespace: {objects.namespace}}}
spec: {{policy: {{versionLimit: 5}}, aliases: {{champion: 1}}}}
---
apiVersion: modelregistry.io/v1alpha1
kind: ModelVersion
metadata: {{name: clf-1, namespace: {objects.namespace}}}
spec:
  modelRef: {{name: clf}}
  version: 1
  stage: Staging
  artifact: {{uri: s3://{bucket}/m.bin}}
"""

    def apply() -> str:
        result = cluster.kubectl_run(
            "apply", "--server-side", "--field-manager=gitops", "-f", "-", stdin=manifest
        )
        return result.stdout

    apply()
    wait_until(lambda: stage_of(objects, "clf-1") == "Staging", what="Staging")
    wait_until(lambda: model_status(objects).get("resolved", {}).get("champion"), what="alias")
    before = {
        plural: objects.get(plural, name)["metadata"]["generation"]
        for plural, name in (("models", "clf"), ("modelversions", "clf-1"))
    }
    again = apply()
    assert "serverside-applied" in again
    for plural, name in (("models", "clf"), ("modelversions", "clf-1")):
        body = objects.get(plural, name)
        assert body["metadata"]["generation"] == before[plural]
        # The operator's field manager owns status only: spec and metadata are the user's.
        owned = [
            m for m in body["metadata"]["managedFields"] if m["manager"] == "modelregistry-operator"
        ]
        assert owned, f"the operator wrote no status of {plural}/{name}"
        assert all(m["subresource"] == "status" for m in owned)
    diff = subprocess.run(
        [
            str(cluster.kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "diff",
            "--server-side",
            "--field-manager=gitops",
            "-f",
            "-",
        ],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr  # 0: no drift
