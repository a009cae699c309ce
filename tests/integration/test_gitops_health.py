"""What Argo CD and Flux see of live objects, at every phase of a version's life.

Each phase is reached for real (the operator, the API server, S3, an
approver impersonated), then read by both engines' own logic: Argo CD's
health checks (gitops/argocd, run by Lua 5.1 as in tests/unit/
test_argocd_health.py) and kstatus, which Flux's `wait: true` runs (our
hack/kstatus over sigs.k8s.io/cli-utils). The health_test.yaml of each kind
must hold on the live objects too. With MODELREGISTRY_CAPTURE_TESTDATA=1
the objects are written, normalised, into gitops/argocd/.../testdata/.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import yaml

from modelregistry import client
from modelregistry.digest import digest_local_path
from modelregistry.localenv import S3Server, find_tool
from tests.integration.conftest import Cluster
from tests.integration.slowproxy import SlowProxy
from tests.integration.support import (
    GROUP,
    REPO,
    VERSION,
    Body,
    Objects,
    OperatorProcess,
    bind_cluster_role,
    impersonating,
    wait_until,
)
from tests.unit.test_argocd_health import (
    CUSTOMIZATIONS,
    Health,
    dump_yaml,
    expectation_for,
    health_of,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

CAPTURE = os.environ.get("MODELREGISTRY_CAPTURE_TESTDATA") == "1"
# What captured files say instead of each run's own names and times.
NAMESPACE, BUCKET, ENDPOINT = "ml", "models", "https://s3.example.com"
TIME = "2026-01-01T00:00:00Z"
APPROVER = "alice"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
KINDS = {"models": "Model", "modelversions": "ModelVersion"}
EXAMPLE = REPO / "examples" / "gitops"


def kstatus(obj: Body) -> dict[str, str]:
    """kstatus's status and message for an object, computed by kstatus itself."""
    done = subprocess.run(
        [str(find_tool("kstatus"))],
        input=json.dumps(obj),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


def normalised(obj: Body, replacements: dict[str, str]) -> Body:
    """The object as a file that a new capture rewrites identically.

    Without uids, times and versionIds, and with each run's own names (the
    namespace, the bucket, the store's endpoint) replaced by fixed ones.
    """

    def version_ids(value: Any, key: str = "") -> list[str]:
        if isinstance(value, dict):
            return [found for k, v in value.items() for found in version_ids(v, k)]
        if isinstance(value, list):
            return [found for v in value for found in version_ids(v, key)]
        return [value] if key == "versionId" and isinstance(value, str) else []

    # A versionId is quoted in messages too.
    replacements = {**replacements, **dict.fromkeys(version_ids(obj), "versionid")}

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, key) for v in value]
        if isinstance(value, str):
            if key == "uid":
                return "00000000-0000-0000-0000-000000000000"
            for old, new in replacements.items():
                value = value.replace(old, new)
            return TIMESTAMP.sub(TIME, value)
        return value

    result: Body = clean(obj)
    if "metadata" in result:
        volatile = ("uid", "resourceVersion", "managedFields", "creationTimestamp")
        result["metadata"] = {k: v for k, v in result["metadata"].items() if k not in volatile}
    return result


@dataclass(frozen=True)
class Reading:
    """What Argo CD's health check and kstatus say of one object (names normalised)."""

    health: Health
    kstatus: str
    kstatus_message: str


@dataclass
class Engines:
    """Reads live objects with both engines, and captures them when asked."""

    objects: Objects
    replacements: dict[str, str]

    def read(self, plural: str, name: str, testdata: str, argo: str, flux: str) -> Reading:
        live = self.objects.get(plural, name)
        seen = normalised(kstatus(live), self.replacements)
        assert seen["status"] == flux, f"{name}: kstatus says {seen}"
        kind = KINDS[plural]
        obj = normalised(live, self.replacements)
        health = health_of(obj)
        assert health.status == argo, f"{name}: Argo CD health {health}"
        reading = Reading(health, seen["status"], seen["message"])
        path = CUSTOMIZATIONS / kind / "testdata" / testdata
        if CAPTURE:
            path.write_text(dump_yaml(obj))
            return reading
        expected = expectation_for(kind, f"testdata/{testdata}")
        assert expected is not None, f"{kind}/health_test.yaml has no test of testdata/{testdata}"
        assert health == expected.health, (
            f"{name} reads otherwise than {kind}/health_test.yaml expects of {testdata}: if the "
            "operator's messages changed, capture again (MODELREGISTRY_CAPTURE_TESTDATA=1) "
            "and update health_test.yaml"
        )
        return reading


@pytest.fixture
def engines(objects: Objects, bucket: str, s3: S3Server) -> Engines:
    names = {objects.namespace: NAMESPACE, bucket: BUCKET, s3.endpoint_url: ENDPOINT}
    return Engines(objects, names)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stage_of(objects: Objects, name: str) -> str | None:
    status = objects.get("modelversions", name).get("status") or {}
    return status.get("stage")


def upload(s3_client: S3Client, bucket: str, key: str, data: bytes) -> str:
    s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


def test_a_version_through_its_phases_as_argo_cd_and_flux_see_it(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    engines: Engines,
    s3_client: S3Client,
    s3: S3Server,
    bucket: str,
) -> None:
    objects.model("churn", policy={"approval": {"requiredFor": ["Production"]}})
    bind_cluster_role(cluster.api_client, namespace, "modelregistry-approver", APPROVER)

    # Bytes on a slow link: the first verification is long, and says so while it lasts.
    big = bytes(range(256)) * 4096 * 6  # 6 MiB at 1 MiB/s
    target = urlsplit(s3.endpoint_url)
    with SlowProxy(target.hostname or "127.0.0.1", target.port or 80, 1024 * 1024) as slow:
        engines.replacements[slow.url] = ENDPOINT
        uri = upload(s3_client, bucket, "churn/1/model.bin", big)
        artifact = {"digest": digest_of(big), "storage": {"endpoint": slow.url}}
        objects.version("churn-1", "churn", uri, artifact=artifact)
        objects.wait_condition("churn-1", "Reconciling", "True", "Verifying")
        verifying = engines.read(
            "modelversions", "churn-1", "progressing-verifying.yaml", "Progressing", "InProgress"
        )
        assert verifying.health.message.startswith("Hashing s3://")
        objects.wait_condition("churn-1", "Ready", "True", timeout=90, on_timeout=operator.log_tail)

    # Waiting for bytes that may yet be uploaded: retried, Reconciling.
    objects.version("churn-2", "churn", f"s3://{bucket}/churn/2/model.bin")
    objects.wait_condition("churn-2", "Reconciling", "True", "ArtifactNotFound")
    engines.read("modelversions", "churn-2", "progressing.yaml", "Progressing", "InProgress")

    # Bytes that are not the digest asked for: only a person can help, Stalled.
    uri = upload(s3_client, bucket, "churn/3/model.bin", b"not the bytes you are looking for")
    objects.version("churn-3", "churn", uri, artifact={"digest": digest_of(b"the bytes")})
    objects.wait_condition("churn-3", "Stalled", "True", "DigestMismatch")
    degraded = engines.read("modelversions", "churn-3", "degraded.yaml", "Degraded", "Failed")
    assert degraded.kstatus_message == degraded.health.message

    # Staging, granted: Ready.
    uri = upload(s3_client, bucket, "churn/4/model.bin", b"weights of version 4")
    objects.version("churn-4", "churn", uri, stage="Staging")
    wait_until(lambda: stage_of(objects, "churn-4") == "Staging", what="Staging granted")
    engines.read("modelversions", "churn-4", "healthy.yaml", "Healthy", "Current")

    # Production asked for by a pull request, waiting for a person: Suspended in Argo CD;
    # kstatus (so Flux's wait) reads it Current, since the version is Ready at Staging.
    objects.patch_spec("churn-4", {"stage": "Production"})
    objects.wait_condition("churn-4", "StageGranted", "False", "ApprovalRequired")
    suspended = engines.read("modelversions", "churn-4", "suspended.yaml", "Suspended", "Current")
    assert "modelregistry approve churn-4 --stage Production" in suspended.health.message

    alice = client.Session(impersonating(cluster.api_client, APPROVER), namespace)
    client.approve(alice, "churn-4", "Production", "AUC 0.87 on the October holdout")
    wait_until(
        lambda: stage_of(objects, "churn-4") == "Production",
        what="Production granted",
        on_timeout=operator.log_tail,
    )
    engines.read("modelversions", "churn-4", "healthy-production.yaml", "Healthy", "Current")


def test_a_spec_the_operator_has_not_seen_yet_is_progressing(
    operator: OperatorProcess,
    objects: Objects,
    engines: Engines,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn", description="Churn, by account.")
    uri = upload(s3_client, bucket, "churn/1/model.bin", b"weights of version 1")
    objects.version("churn-1", "churn", uri)
    objects.wait_condition("churn-1", "Ready", "True")
    wait_until(
        lambda: (objects.get("models", "churn").get("status") or {}).get("observedGeneration"),
        what="the Model's status",
    )

    operator.stop()
    try:
        # A pull request merged and synced while the operator is away (or behind).
        objects.patch_spec("churn-1", {"stage": "Staging"})
        stale = engines.read("modelversions", "churn-1", "stale.yaml", "Progressing", "InProgress")
        assert stale.health.message == (
            "Waiting for the operator to observe generation 2 (status is of generation 1)."
        )
        objects.api.patch_namespaced_custom_object(
            GROUP, VERSION, objects.namespace, "models", "churn", {"spec": {"description": "New."}}
        )
        engines.read("models", "churn", "stale.yaml", "Progressing", "InProgress")

        # Just created: no status at all. kstatus takes that for Current (Flux #4346),
        # which is why the operator's first pass writes at once; Argo CD waits.
        uri = upload(s3_client, bucket, "churn/2/model.bin", b"weights of version 2")
        objects.version("churn-2", "churn", uri)
        new = engines.read("modelversions", "churn-2", "new.yaml", "Progressing", "Current")
        assert (
            new.health.message
            == "Waiting for the operator to observe generation 1 (no status yet)."
        )
        objects.model("fraud")
        engines.read("models", "fraud", "new.yaml", "Progressing", "Current")
    finally:
        operator.start()

    wait_until(lambda: stage_of(objects, "churn-1") == "Staging", what="Staging granted")
    objects.wait_condition("churn-2", "Ready", "True")
    assert health_of(objects.get("modelversions", "churn-1")).status == "Healthy"


def test_a_model_whose_alias_names_no_ready_version_is_degraded(
    operator: OperatorProcess,
    objects: Objects,
    engines: Engines,
    s3_client: S3Client,
    bucket: str,
) -> None:
    objects.model("churn", aliases={"champion": 1})
    uri = upload(s3_client, bucket, "churn/1/model.bin", b"weights of version 1")
    objects.version("churn-1", "churn", uri)
    objects.wait_condition("churn-1", "Ready", "True")

    def aliases_resolved(status: str) -> bool:
        model = objects.get("models", "churn")
        conditions = (model.get("status") or {}).get("conditions") or []
        found = next((c for c in conditions if c["type"] == "AliasesResolved"), None)
        return found is not None and found["status"] == status

    wait_until(lambda: aliases_resolved("True"), what="champion resolved")
    engines.read("models", "churn", "healthy.yaml", "Healthy", "Current")

    # A pull request points an alias at a version that does not exist (yet).
    objects.api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        objects.namespace,
        "models",
        "churn",
        {"spec": {"aliases": {"champion": 1, "challenger": 7}}},
    )
    wait_until(lambda: aliases_resolved("False"), what="challenger unresolved")
    # The Model still summarises its versions (Ready): kstatus says Current, Argo CD Degraded.
    degraded = engines.read("models", "churn", "degraded.yaml", "Degraded", "Current")
    assert "alias 'challenger' points at version 7, which does not exist" in (
        degraded.health.message
    )


# --- examples/gitops, synced as Flux or Argo CD would ---------------------------------


def render(cluster: Cluster, environment: str, namespace: str, bucket: str) -> list[Body]:
    """An environment of examples/gitops as `kustomize build` makes it, in the test's namespace."""
    done = cluster.kubectl_run("kustomize", str(EXAMPLE / "environments" / environment))
    manifests = [m for m in yaml.safe_load_all(done.stdout) if m]
    for manifest in manifests:
        manifest["metadata"]["namespace"] = namespace
        artifact = manifest.get("spec", {}).get("artifact")
        if artifact is not None:
            artifact["uri"] = artifact["uri"].replace("s3://models/", f"s3://{bucket}/")
    return manifests


def sync(cluster: Cluster, manifests: list[Body]) -> None:
    """What a sync does: apply every manifest of the revision."""
    done = cluster.kubectl_run(
        "apply",
        "--server-side",
        "--field-manager=gitops",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(manifests),
        check=False,
    )
    assert done.returncode == 0, done.stderr


def asking(manifests: list[Body], stages: dict[str, str]) -> list[Body]:
    """The same revision with other stages asked for: a pull request to stages.yaml."""
    changed = copy.deepcopy(manifests)
    for manifest in changed:
        if manifest["metadata"]["name"] in stages:
            manifest["spec"]["stage"] = stages[manifest["metadata"]["name"]]
    return changed


def by_name(manifests: list[Body], name: str) -> Body:
    return next(m for m in manifests if m["metadata"]["name"] == name)


def read(objects: Objects, plural: str, name: str) -> tuple[Health, str]:
    """What Argo CD's health check and kstatus say of a live object."""
    live = objects.get(plural, name)
    return health_of(live), kstatus(live)["status"]


def test_the_example_registers_the_example_artifact() -> None:
    digest = digest_local_path(REPO / "examples" / "artifacts" / "churn").digest
    for name in ("churn-1", "churn-2"):
        manifest = yaml.safe_load((EXAMPLE / "base" / "versions" / f"{name}.yaml").read_text())
        assert manifest["spec"]["artifact"]["digest"] == digest


def test_each_environment_of_the_example_is_admitted_by_the_api_server(
    cluster: Cluster, namespace: str, bucket: str
) -> None:
    for environment in ("dev", "prod"):
        manifests = render(cluster, environment, namespace, bucket)
        assert sorted(m["kind"] for m in manifests if m["apiVersion"].startswith(GROUP)) == [
            "Model",
            "ModelVersion",
            "ModelVersion",
        ]
        done = cluster.kubectl_run(
            "apply",
            "--dry-run=server",
            "-f",
            "-",
            stdin=yaml.safe_dump_all(manifests),
            check=False,
        )
        assert done.returncode == 0, f"{environment}: {done.stderr}"


def test_the_example_promotion_by_pull_request(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    objects: Objects,
    s3_client: S3Client,
    s3: S3Server,
    bucket: str,
) -> None:
    """examples/gitops/README.md, step by step, on the prod environment."""
    objects.s3_secret("models-s3", s3.access_key, s3.secret_key)
    artifact = REPO / "examples" / "artifacts" / "churn"
    for number in (1, 2):
        for file in sorted(artifact.iterdir()):
            s3_client.put_object(
                Bucket=bucket, Key=f"churn/{number}/{file.name}", Body=file.read_bytes()
            )
    main = render(cluster, "prod", namespace, bucket)
    sync(cluster, main)
    # An approver: in the group the Model's policy names and the overlay's RoleBinding binds.
    carol = client.Session(impersonating(cluster.api_client, "carol", "ml-approvers"), namespace)

    # The first sync: churn-1 asks for Production and waits for its approval.
    objects.wait_condition(
        "churn-1",
        "StageGranted",
        "False",
        "ApprovalRequired",
        timeout=180,
        on_timeout=operator.log_tail,
    )
    assert read(objects, "modelversions", "churn-1")[0].status == "Suspended"
    client.approve(carol, "churn-1", "Production", "first release")
    wait_until(lambda: stage_of(objects, "churn-1") == "Production", what="churn-1 Production")
    wait_until(
        lambda: stage_of(objects, "churn-2") == "Staging",
        timeout=180,
        what="churn-2 Staging",
        on_timeout=operator.log_tail,
    )
    for name in ("churn-1", "churn-2"):
        health, flux = read(objects, "modelversions", name)
        assert (health.status, flux) == ("Healthy", "Current"), name

    # The pull request: churn-2 asks for Production. Merged, synced.
    sync(cluster, asking(main, {"churn-2": "Production"}))
    waiting = objects.wait_condition("churn-2", "StageGranted", "False", "ApprovalRequired")
    health, flux = read(objects, "modelversions", "churn-2")
    assert (health.status, flux) == ("Suspended", "Current")
    assert health.message == waiting["message"]
    assert health.message.startswith("Production needs 1 approval from ml-approvers given since")
    assert stage_of(objects, "churn-2") == "Staging"

    client.approve(carol, "churn-2", "Production", "AUC 0.89 on the November holdout")
    wait_until(lambda: stage_of(objects, "churn-2") == "Production", what="churn-2 Production")
    wait_until(lambda: stage_of(objects, "churn-1") == "Archived", what="churn-1 replaced")
    health, flux = read(objects, "modelversions", "churn-2")
    assert (health.status, flux) == ("Healthy", "Current")
    assert health.message == "Version 2 of Model 'churn' is ready. Production is granted."
    # churn-1 still asks for Production in Git; it is told, and stays Healthy.
    health, flux = read(objects, "modelversions", "churn-1")
    assert (health.status, flux) == ("Healthy", "Current")
    assert "churn-2" in health.message

    # The follow-up pull request: Git says what the cluster granted, and the alias follows.
    after = asking(main, {"churn-1": "Archived", "churn-2": "Production"})
    by_name(after, "churn")["spec"]["aliases"] = {"champion": 2}
    sync(cluster, after)
    objects.wait_condition("churn-1", "StageGranted", "True", "Granted")
    wait_until(
        lambda: (
            (objects.get("models", "churn").get("status") or {})
            .get("resolved", {})
            .get("champion", {})
            .get("version")
            == 2
        ),
        what="champion at version 2",
    )
    for plural, name in (("models", "churn"), ("modelversions", "churn-1")):
        health, flux = read(objects, plural, name)
        assert (health.status, flux) == ("Healthy", "Current"), name
