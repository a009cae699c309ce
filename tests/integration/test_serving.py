"""Serving from the registry on the local node: `modelregistry fetch URI DEST` as a model
server's init container, the pins it keeps, the bytes it refuses, and who cannot redirect it.

The Deployment is examples/serving/deployment.yaml with this test's namespace, the project's
image (imported into the node), the S3 server as Pods reach it, and a busybox "server" that
prints the SHA-256 of what it was handed. The init container reads the API as the Pod's
ServiceAccount, bound to modelregistry-view as examples/serving/rbac.yaml binds it.

Tampering, honestly: in a versioned bucket a user with S3 write access can only add a newer
object version under the key; the fetch pins versionIds, so serving keeps the verified bytes.
In a bucket without versioning the same user can overwrite the bytes the operator verified; the
operator notices at its next re-verification (an hour by default), and until then only the
fetch's own hash stands between those bytes and the server. The session's operator is stopped
for that window, so its re-verification (3 s here) does not race the Pods.

KServe's own CRDs (hack/fetch-kserve-crds.sh) judge the ClusterStorageContainer and
InferenceService manifests server-side.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kubernetes
import pytest
import yaml

from modelregistry import client
from modelregistry.localenv import Node, S3Server, find_tool
from modelregistry.localenv.tools import cache_root
from modelregistry.servingfetch import run_fetch_uri
from tests.integration.conftest import Cluster, PodRuntime, temporary_namespace
from tests.integration.support import (
    CHART,
    Objects,
    OperatorProcess,
    bind_cluster_role,
    helm,
    impersonating,
    render_chart,
    wait_until,
)
from tests.integration.test_lifecycle import ALICE, as_user, stage_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "serving"
KSERVE_VERSION = os.environ.get("KSERVE_VERSION", "v0.17.0")
SECRET = "churn-s3-credentials"
MIB = 1 << 20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def serving(
    cluster: Cluster,
    restricted: str,
    objects: Objects,
    s3: S3Server,
    pod_runtime: PodRuntime | None,
    node: Node | None,
) -> Serving:
    """The test's namespace set up as examples/serving/rbac.yaml says, with the S3 Secret."""
    assert pod_runtime is not None and node is not None  # `restricted` skips without them
    for document in yaml.safe_load_all((EXAMPLES / "rbac.yaml").read_text()):
        document["metadata"]["namespace"] = restricted
        for subject in document.get("subjects", []):
            subject["namespace"] = restricted
        cast(Any, kubernetes.utils).create_from_dict(
            cluster.api_client, document, namespace=restricted
        )
    objects.s3_secret(SECRET, s3.access_key, s3.secret_key)
    return Serving(cluster, restricted, pod_runtime, node)


class Serving:
    """Deployments and Pods in the test's namespace, built from the examples."""

    def __init__(self, cluster: Cluster, namespace: str, pods: PodRuntime, node: Node) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.pods = pods
        self.node = node
        # Read as plain attributes: the stubs' Optional fields are all set on these objects.
        self.core: Any = kubernetes.client.CoreV1Api(cluster.api_client)
        self.apps: Any = kubernetes.client.AppsV1Api(cluster.api_client)

    def deployment(self, uri: str) -> dict[str, Any]:
        body = cast(dict[str, Any], yaml.safe_load((EXAMPLES / "deployment.yaml").read_text()))
        body["metadata"]["namespace"] = self.namespace
        self._adapt(body["spec"]["template"]["spec"], uri)
        return body

    def pod(self, name: str, uri: str) -> dict[str, Any]:
        template = self.deployment(uri)["spec"]["template"]
        template["spec"]["restartPolicy"] = "Never"
        server = template["spec"]["containers"][0]
        server["command"][-1] = server["command"][-1].replace("; exec sleep 3600", "")
        template["metadata"]["name"] = name
        return {"apiVersion": "v1", "kind": "Pod", **template}

    def _adapt(self, spec: dict[str, Any], uri: str) -> None:
        """The example on this node: the imported image, S3 and the API server as Pods
        reach them here, and a busybox server that prints what it was handed."""
        env, host_aliases = self.node.in_cluster_api_overrides()
        spec["hostAliases"] = host_aliases
        (fetch,) = spec["initContainers"]
        fetch["image"] = self.pods.image
        fetch["imagePullPolicy"] = "Never"
        fetch["args"] = [uri, "/models"]
        fetch["env"] = [
            {"name": "MODELREGISTRY_S3_ENDPOINT", "value": self.pods.s3_endpoint},
            *({"name": k, "value": v} for k, v in env.items()),
        ]
        (server,) = spec["containers"]
        server["image"] = self.pods.busybox
        server["imagePullPolicy"] = "IfNotPresent"
        del server["args"]
        server["command"] = [
            "sh",
            "-c",
            "cd /models && /bin/busybox find . -type f | /bin/busybox sort | "
            'while read f; do /bin/busybox sha256sum "$f"; done; '
            "echo served; exec sleep 3600",
        ]

    def log(self, pod: str, container: str = "server") -> str:
        log: str = self.core.read_namespaced_pod_log(pod, self.namespace, container=container)
        return log

    def served(self, selector: str, token: str | None = None) -> tuple[str, str]:
        """(Pod name, its server's log) once a Pod of the selector (and the rollout
        `token`, if given) has printed what it serves."""

        def printed() -> tuple[str, str] | None:
            for pod in self.core.list_namespaced_pod(self.namespace, label_selector=selector).items:
                annotations = pod.metadata.annotations or {}
                if token is not None and annotations.get("restartedAt") != token:
                    continue
                statuses = pod.status.container_statuses or []
                if statuses and statuses[0].state.running is not None:
                    log = self.log(pod.metadata.name)
                    if log.endswith("served\n"):
                        return pod.metadata.name, log
            return None

        found: tuple[str, str] = wait_until(
            printed,
            timeout=120,
            interval=0.5,
            what=f"a Pod of {selector} serving",
            on_timeout=self.events,
        )
        return found

    def restart(self, name: str) -> str:
        """`kubectl rollout restart`: a new ReplicaSet, whose Pods fetch again."""
        token = uuid.uuid4().hex[:8]
        self.apps.patch_namespaced_deployment(
            name,
            self.namespace,
            {"spec": {"template": {"metadata": {"annotations": {"restartedAt": token}}}}},
        )
        return token

    def failed_fetch(self, name: str) -> Any:
        """The terminated state of a Pod's fetch step, once it has failed."""

        def failed() -> Any:
            pod = self.core.read_namespaced_pod(name, self.namespace)
            for status in pod.status.init_container_statuses or []:
                if status.state.terminated is not None and status.state.terminated.exit_code:
                    return status.state.terminated
            assert pod.status.phase != "Succeeded", "the fetch step succeeded"
            return None

        return wait_until(failed, timeout=120, interval=0.5, what=f"{name}'s fetch to fail")

    def finished(self, name: str) -> str:
        """The server's log of a Pod that ran to its end (Succeeded)."""

        def done() -> bool:
            phase = str(self.core.read_namespaced_pod(name, self.namespace).status.phase)
            assert phase != "Failed", self.events()
            return phase == "Succeeded"

        wait_until(done, timeout=120, interval=0.5, what=f"{name} to succeed")
        return self.log(name)

    def events(self) -> str:
        listing = self.core.list_namespaced_event(self.namespace).items
        return "\n".join(f"{e.involved_object.name}: {e.reason}: {e.message}" for e in listing)


def registered(
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
    name: str,
    model: str,
    files: dict[str, bytes],
) -> None:
    """A version of `model` with these files (one: an object; more: a prefix), Ready."""
    if len(files) == 1:
        ((key, data),) = files.items()
        s3_client.put_object(Bucket=bucket, Key=f"{name}/{key}", Body=data)
        uri = f"s3://{bucket}/{name}/{key}"
    else:
        for key, data in files.items():
            s3_client.put_object(Bucket=bucket, Key=f"{name}/{key}", Body=data)
        uri = f"s3://{bucket}/{name}/"
    objects.version(name, model, uri)
    objects.wait_condition(name, "Ready", "True", timeout=90)


def resolved(objects: Objects, model: str, target: str) -> str | None:
    status = objects.get("models", model).get("status") or {}
    return cast(str | None, ((status.get("resolved") or {}).get(target) or {}).get("name"))


def sums(files: dict[str, bytes]) -> str:
    return "".join(f"{sha(data)}  ./{path}\n" for path, data in sorted(files.items())) + "served\n"


def test_a_deployment_serves_the_champion_and_a_new_rollout_follows_the_alias(
    operator: OperatorProcess,
    serving: Serving,
    objects: Objects,
    s3_client: S3Client,
    bucket: str,
) -> None:
    # Larger than one part: the init container fetches it as parallel ranged GETs.
    first = {"model.bin": os.urandom(20 * MIB + 3)}
    second = {"MLmodel": b"flavors: {}\n", "model.pkl": os.urandom(MIB)}
    objects.model("churn", aliases={"champion": 1})
    registered(objects, s3_client, bucket, "churn-1", "churn", first)
    registered(objects, s3_client, bucket, "churn-2", "churn", second)
    wait_until(lambda: resolved(objects, "churn", "champion") == "churn-1", what="champion")

    uri = f"modelregistry://{serving.namespace}/churn@champion"
    serving.apps.create_namespaced_deployment(serving.namespace, serving.deployment(uri))
    pod, log = serving.served("app=churn-server")
    assert log == sums(first)
    fetched = serving.log(pod, "fetch-model")
    assert f"{uri} = churn version 1 (churn-1, None)" in fetched
    assert objects.get("modelversions", "churn-1")["status"]["artifact"]["digest"] in fetched

    objects.api.patch_namespaced_custom_object(
        "modelregistry.io",
        "v1alpha1",
        objects.namespace,
        "models",
        "churn",
        {"spec": {"aliases": {"champion": 2}}},
    )
    wait_until(lambda: resolved(objects, "churn", "champion") == "churn-2", what="the move")
    token = serving.restart("churn-server")
    _, log = serving.served("app=churn-server", token)
    assert log == sums(second)


def test_fetch_keeps_to_the_pinned_versions_and_refuses_bytes_that_changed(
    operator: OperatorProcess,
    serving: Serving,
    objects: Objects,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
) -> None:
    verified, evil = os.urandom(9 * MIB), os.urandom(9 * MIB)
    plain = f"plain-{uuid.uuid4().hex[:8]}"  # no versioning: the key is the only pin
    s3_client.create_bucket(Bucket=plain)
    objects.model("pinned", aliases={"champion": 1})
    objects.model("plain", aliases={"champion": 1})
    registered(objects, s3_client, bucket, "pinned-1", "pinned", {"model.bin": verified})
    registered(objects, s3_client, plain, "plain-1", "plain", {"model.bin": verified})
    for model in ("pinned", "plain"):

        def champion(model: str = model) -> str | None:
            return resolved(objects, model, "champion")

        wait_until(champion, what=f"{model}@champion")
    digest = "sha256:" + sha(verified)
    namespace = serving.namespace

    operator.stop()  # the window before the next re-verification
    try:
        s3_client.put_object(Bucket=bucket, Key="pinned-1/model.bin", Body=evil)
        s3_client.put_object(Bucket=plain, Key="plain-1/model.bin", Body=evil)

        kept = serving.pod("kept", f"modelregistry://{namespace}/pinned@champion")
        serving.core.create_namespaced_pod(namespace, kept)
        assert serving.finished("kept").startswith(f"{sha(verified)}  ./model.bin\n")

        uri = f"modelregistry://{namespace}/plain@champion"
        serving.core.create_namespaced_pod(namespace, serving.pod("changed", uri))
        state = serving.failed_fetch("changed")
        message = (
            f"modelregistry fetch: model.bin hashes to sha256:{sha(evil)}, but {digest} was "
            f"verified ({uri}: plain-1, s3://{plain}/plain-1/model.bin); nothing was written "
            "to /models"
        )
        assert (state.exit_code, state.message) == (3, message)

        # The same by hand: DEST is left as it was, new or an empty directory.
        environment = {
            **os.environ,
            "PYTHONPATH": str(REPO / "operator"),
            "KUBECONFIG": str(serving.cluster.kubeconfig),
            "MODELREGISTRY_S3_ENDPOINT": s3.endpoint_url,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }
        empty = tmp_path / "empty"
        empty.mkdir()
        for destination in (tmp_path / "new", empty):
            done = subprocess.run(
                [sys.executable, "-m", "modelregistry", "fetch", uri, str(destination)],
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert (done.returncode, done.stdout) == (3, "")
            assert done.stderr == message.replace("/models", str(destination)) + "\n"
        assert [p.name for p in tmp_path.iterdir()] == ["empty"]
        assert list(empty.iterdir()) == []
    finally:
        operator.start()


def test_a_uri_of_another_namespace_needs_rbac_there(
    operator: OperatorProcess, serving: Serving, cluster: Cluster
) -> None:
    with temporary_namespace(cluster, "t-other-") as other:
        uri = f"modelregistry://{other}/churn@champion"
        serving.core.create_namespaced_pod(serving.namespace, serving.pod("elsewhere", uri))
        state = serving.failed_fetch("elsewhere")

    user = f"system:serviceaccount:{serving.namespace}:model-server"
    assert state.exit_code == 1
    assert state.message == (
        f'modelregistry fetch: refused by the API server: models.modelregistry.io "churn" is '
        f'forbidden: User "{user}" cannot get resource "models" in API group '
        f'"modelregistry.io" in the namespace "{other}". Reading {uri} takes get and list '
        f"on models and modelversions in namespace '{other}': bind the modelregistry-view "
        "ClusterRole there (docs/serving.md)"
    )


MALLORY, READER = "mallory", "reader"


@pytest.fixture
def people(cluster: Cluster, namespace: str) -> Iterator[None]:
    """alice approves; mallory may create and edit versions (no Models, no status, no
    delete), as a training pipeline's identity may; reader has modelregistry-view."""
    rbac = kubernetes.client.RbacAuthorizationV1Api(cluster.api_client)
    bind_cluster_role(cluster.api_client, namespace, "modelregistry-approver", ALICE)
    bind_cluster_role(cluster.api_client, namespace, "modelregistry-view", READER)
    rbac.create_namespaced_role(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "version-writer"},
                "rules": [
                    {
                        "apiGroups": ["modelregistry.io"],
                        "resources": ["modelversions"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch"],
                    }
                ],
            },
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        cast(
            Any,
            {
                "metadata": {"name": "mallory-writes-versions"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "version-writer",
                },
                "subjects": [
                    {"kind": "User", "name": MALLORY, "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
        ),
    )
    yield


def test_a_user_who_writes_versions_cannot_redirect_what_a_uri_serves(
    operator: OperatorProcess,
    cluster: Cluster,
    namespace: str,
    people: None,
    objects: Objects,
    s3: S3Server,
    s3_client: S3Client,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    honest, hers = b"honest weights", b"mallory's weights"
    objects.model(
        "churn", policy={"approval": {"requiredFor": ["Production"]}}, aliases={"champion": 1}
    )
    registered(objects, s3_client, bucket, "churn-1", "churn", {"model.bin": honest})
    objects.patch_spec("churn-1", {"stage": "Production"})
    objects.wait_condition("churn-1", "StageGranted", "False", "ApprovalRequired")
    client.approve(as_user(cluster, namespace, ALICE), "churn-1", "Production")
    wait_until(lambda: stage_of(objects, "churn-1") == "Production", what="Production")

    mallory = client.Session(impersonating(cluster.api_client, MALLORY), namespace)
    s3_client.put_object(Bucket=bucket, Key="evil/model.bin", Body=hers)
    for name, spec in (
        ("churn-champion", {"version": 1}),  # the champion's number, under a name of her own
        ("churn-production", {"stage": "Production"}),  # asks for Production
    ):
        mallory.create(
            "modelversions",
            {
                "apiVersion": "modelregistry.io/v1alpha1",
                "kind": "ModelVersion",
                "metadata": {"name": name},
                "spec": {
                    "modelRef": {"name": "churn"},
                    "artifact": {"uri": f"s3://{bucket}/evil/model.bin"},
                    **spec,
                },
            },
        )
    objects.wait_condition("churn-champion", "VersionAssigned", "False", "DuplicateVersion")
    objects.wait_condition("churn-production", "StageGranted", "False", "ApprovalRequired")
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        mallory.custom.patch_namespaced_custom_object(
            "modelregistry.io",
            "v1alpha1",
            namespace,
            "modelversions",
            "churn-1",
            {"spec": {"artifact": {"uri": f"s3://{bucket}/evil/model.bin"}}},
        )
    assert refused.value.status == 422
    with pytest.raises(kubernetes.client.exceptions.ApiException) as refused:
        mallory.custom.patch_namespaced_custom_object_status(
            "modelregistry.io",
            "v1alpha1",
            namespace,
            "modelversions",
            "churn-production",
            {"status": {"stage": "Production"}},
        )
    assert refused.value.status == 403

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3.region)
    reader = client.Session(impersonating(cluster.api_client, READER), namespace)
    for target in ("champion", "Production", "1"):
        destination = tmp_path / target
        code = run_fetch_uri(
            f"modelregistry://{namespace}/churn@{target}",
            destination,
            endpoint=s3.endpoint_url,
            session=reader,
        )
        assert code == 0, capsys.readouterr().err
        assert (destination / "model.bin").read_bytes() == honest
    # Her version is version 2, by number only: asked for Production, it is not served as it.
    assert client.resolve(reader, client.Reference("churn", "2"))["name"] == "churn-production"
    assert client.resolve(reader, client.Reference("churn", "Production"))["name"] == "churn-1"


# --- KServe, judged by its own CRDs ---------------------------------------------------------------


def kserve_crds() -> list[dict[str, Any]]:
    directory = cache_root() / f"kserve-crds-{KSERVE_VERSION}"
    files = sorted(directory.glob("serving.kserve.io_*.yaml"))
    assert len(files) == 2, f"no KServe CRDs in {directory}: run hack/fetch-kserve-crds.sh"
    return [yaml.safe_load(f.read_text()) for f in files]


@pytest.fixture
def kserve(cluster: Cluster) -> Iterator[None]:
    """KServe's ClusterStorageContainer and InferenceService CRDs, for this test only."""
    extensions: Any = kubernetes.client.ApiextensionsV1Api(cluster.api_client)
    names = []
    for crd in kserve_crds():
        extensions.create_custom_resource_definition(cast(Any, crd))
        names.append(crd["metadata"]["name"])

    def established() -> bool:
        for name in names:
            conditions = extensions.read_custom_resource_definition(name).status.conditions or []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    wait_until(established, what="KServe's CRDs to be established")
    try:
        yield
    finally:
        for name in names:
            extensions.delete_custom_resource_definition(name)


def dry_run(cluster: Cluster, namespace: str, manifest: str) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl_run(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=manifest, check=False
    )


def test_the_kserve_manifests_are_what_kserve_s_crds_admit(
    kserve: None, cluster: Cluster, namespace: str
) -> None:
    storage = (EXAMPLES / "kserve" / "clusterstoragecontainer.yaml").read_text()
    service = (
        (EXAMPLES / "kserve" / "inferenceservice.yaml")
        .read_text()
        .replace("namespace: team-a", f"namespace: {namespace}")
    )
    chart = [
        d
        for d in yaml.safe_load_all(
            render_chart(
                cluster.api_client,
                "modelregistry-system",
                "--set",
                "kserve.storageContainer.enabled=true",
                "--set",
                "kserve.storageContainer.s3Endpoint=http://minio.storage:9000",
                "--set",
                "kserve.storageContainer.resources.limits.memory=1Gi",
            )
        )
        if d and d["kind"] == "ClusterStorageContainer"
    ]
    assert len(chart) == 1
    assert chart[0]["spec"]["supportedUriFormats"] == [{"prefix": "modelregistry://"}]
    container = chart[0]["spec"]["container"]
    assert container["command"] == ["modelregistry", "fetch"]
    assert "args" not in container  # KServe sets them: URI, /mnt/models
    assert container["image"] == "localhost/modelregistry/operator:dev"
    assert container["env"] == [
        {"name": "MODELREGISTRY_S3_ENDPOINT", "value": "http://minio.storage:9000"}
    ]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    # The example is the chart's object, but for the chart's labels and its settings.
    example = yaml.safe_load(storage)
    example["spec"]["container"]["env"] = container["env"]
    example["spec"]["container"]["resources"]["limits"]["memory"] = "1Gi"
    assert example["spec"] == chart[0]["spec"]

    for manifest in (storage, service, yaml.safe_dump(chart[0])):
        applied = dry_run(cluster, namespace, manifest)
        assert applied.returncode == 0, applied.stderr
        assert "(server dry run)" in applied.stdout

    # The CRDs do judge: a storage container without its container is refused.
    broken = yaml.safe_load(storage)
    del broken["spec"]["container"]
    refused = dry_run(cluster, namespace, yaml.safe_dump(broken))
    assert refused.returncode != 0
    assert "spec.container" in refused.stderr


def test_the_chart_installs_no_storage_container_unless_asked(cluster: Cluster) -> None:
    rendered = render_chart(cluster.api_client, "modelregistry-system")

    assert "ClusterStorageContainer" not in rendered
    enabled = ("--set", "kserve.storageContainer.enabled=true")
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART), *enabled).stdout
    wrong = render_chart_result(cluster, "--set", "kserve.storageContainer.enabled=yes")
    assert wrong.returncode != 0
    assert "at '/kserve/storageContainer/enabled': got string, want boolean" in wrong.stderr


def render_chart_result(cluster: Cluster, *flags: str) -> subprocess.CompletedProcess[str]:
    """`helm template` with these flags; its exit code is the caller's to judge."""
    server = kubernetes.client.VersionApi(cluster.api_client).get_code().git_version
    command = ["template", "mr", str(CHART), "--kube-version", server, *flags]
    return subprocess.run(
        [str(find_tool("helm")), *command], capture_output=True, text=True, timeout=120
    )
