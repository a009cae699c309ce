"""`modelregistry fetch` of an oci:// version, against a real registry (distribution v3).

The version is verified by the session's operator; `modelregistry fetch` resolves the URI
through the API server and pulls the verified manifest digest, every blob hashed again as it
lands. What lands is what the validation Pod's fetch step lays out (the same plan, run as that
step runs it). A blob altered in the registry's own storage, or by a proxy the registry is
reached through, ends in exit 3 naming the blob and both digests, and DEST as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelregistry.api.oci import RegistrySettings, VerifiedOciManifest
from modelregistry.decisions.oci.podplan import fetch_plan
from modelregistry.fetch import PLAN_VARIABLE
from modelregistry.localenv.ociregistry import OciRegistry
from modelregistry.localenv.process import free_port
from tests.integration import ocipush
from tests.integration.conftest import OCI_PASSWORD, OCI_USER, Cluster
from tests.integration.hostileregistry import HostileRegistry
from tests.integration.support import Objects, OperatorProcess, wait_until
from tests.integration.test_oci_verification import docker_secret

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A ModelPack pushed to a registry: a raw weight layer and a gzip'd tar of docs."""

    pushed: ocipush.Pushed
    uri: str
    files: dict[str, bytes]  # what it holds once laid out, by path

    @property
    def weights(self) -> str:
        return self.pushed.blobs["model.onnx"]


def push_artifact(registry: OciRegistry, repository: str, tmp: Path, **login: str) -> Artifact:
    files = {
        "model.onnx": os.urandom(3 * MIB + 7),
        "docs/README.md": b"# churn\n",
        "docs/card/limits.txt": os.urandom(1000),
    }
    weights = tmp / "model.onnx"
    weights.write_bytes(files["model.onnx"])
    docs = ocipush.tar_of(
        {"docs/": b"", **{k: v for k, v in files.items() if k.startswith("docs/")}},
        tmp / "docs.tar.gz",
        gzip=True,
    )
    pushed = ocipush.modelpack(
        ocipush.client(registry.host, *login.values()),
        f"{registry.host}/{repository}:v1",
        [(weights, ocipush.MODELPACK_WEIGHT_RAW), (docs, ocipush.MODELPACK_DOC_TAR_GZIP)],
        tmp,
    )
    return Artifact(pushed, f"oci://{registry.host}/{repository}@{pushed.digest}", files)


def landed(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by its path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Fetcher:
    """`modelregistry fetch` as a process, as the tests' admin (who may read the versions)."""

    cluster: Cluster
    home: Path

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),  # no docker config of the machine's own
            "PYTHONPATH": os.pathsep.join([str(REPO / "operator"), str(REPO)]),
            "KUBECONFIG": str(self.cluster.kubeconfig),
            **env,
        }
        return subprocess.run(
            [sys.executable, "-m", "modelregistry", "fetch", *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def fetcher(cluster: Cluster, tmp_path: Path) -> Fetcher:
    home = tmp_path / "home"
    home.mkdir()
    return Fetcher(cluster, home)


def ready_champion(objects: Objects, artifact: Artifact, name: str, **spec: Any) -> str:
    """Version 1 of Model `name`, verified and Ready, its champion; the URI that names it."""
    objects.model(name, aliases={"champion": 1})
    objects.version(f"{name}-1", name, artifact.uri, artifact={"uri": artifact.uri, **spec})
    objects.wait_condition(f"{name}-1", "Ready", "True", "Succeeded", timeout=90)

    def resolved() -> bool:
        status = objects.get("models", name).get("status") or {}
        champion = (status.get("resolved") or {}).get("champion") or {}
        return bool(champion.get("name") == f"{name}-1")

    wait_until(resolved, what=f"{name}@champion")
    return f"modelregistry://{objects.namespace}/{name}@champion"


def test_fetch_of_an_oci_version_lands_what_the_validation_pod_sees(
    operator: OperatorProcess,
    objects: Objects,
    oci_registry_auth: OciRegistry,
    fetcher: Fetcher,
    tmp_path: Path,
) -> None:
    registry = oci_registry_auth
    artifact = push_artifact(
        registry, "models/churn", tmp_path, user=OCI_USER, password=OCI_PASSWORD
    )
    docker_secret(objects, "registry", registry.host, OCI_PASSWORD)
    settings = {"secretRef": {"name": "registry"}, "plainHttp": True}
    uri = ready_champion(objects, artifact, "churn", registry=settings)
    login = {
        "MODELREGISTRY_REGISTRY_USERNAME": OCI_USER,
        "MODELREGISTRY_REGISTRY_PASSWORD": OCI_PASSWORD,
    }

    destination = tmp_path / "serve" / "model"
    done = fetcher.run(uri, str(destination), **login)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(
        f"modelregistry fetch: {uri} = churn version 1 (churn-1, None), "
        f"{artifact.pushed.digest}, 2 layers, "
    )
    assert f" into {destination} (3 files) in " in done.stdout
    assert landed(destination) == artifact.files
    assert [p.name for p in destination.parent.iterdir()] == ["model"]

    # The validation Pod's fetch step, run as its container runs it, with the plan the
    # operator gives it: the same files.
    status = objects.get("modelversions", "churn-1")["status"]
    plan = fetch_plan(
        artifact.uri,
        VerifiedOciManifest.model_validate(status["artifact"]["oci"]),
        status["artifact"]["digest"],
        RegistrySettings(plain_http=True),
        {registry.host: registry.host},
    )
    pod = tmp_path / "pod"
    step = fetcher.run(
        *("--dest", str(pod / "artifact"), "--meta", str(pod / "meta")),
        *("--report", str(pod / "report")),
        **login,
        **{PLAN_VARIABLE: json.dumps(plan)},
    )
    assert step.returncode == 0, (step.stdout, step.stderr, (pod / "report").read_text())
    assert landed(pod / "artifact") == landed(destination)

    # A docker config (the docker CLI's, or a mounted dockerconfigjson Secret) serves too;
    # an init container run again on the same volume finds the bytes there.
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"username": OCI_USER, "password": OCI_PASSWORD}}})
    )
    volume = tmp_path / "volume"
    volume.mkdir()
    for _ in range(2):
        again = fetcher.run(uri, str(volume), DOCKER_CONFIG=str(config))
        assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(
        f"modelregistry fetch: {volume} already holds {uri} = churn version 1 (churn-1, None), "
        f"{artifact.pushed.digest}, 2 layers, "
    )
    assert landed(volume) == artifact.files

    # Without credentials the registry refuses, and the message says what to give.
    anonymous = fetcher.run(uri, str(tmp_path / "anonymous"))
    assert anonymous.returncode == 1
    assert anonymous.stderr == (
        f"modelregistry fetch: could not fetch {artifact.uri} for {uri}: {registry.host} "
        "asks for a username and password (Basic) and none were given: give this Pod the "
        "registry's credentials (e.g. from Secret 'registry'): "
        "MODELREGISTRY_REGISTRY_USERNAME and MODELREGISTRY_REGISTRY_PASSWORD, or "
        "MODELREGISTRY_REGISTRY_DOCKERCONFIGJSON, or a docker config with an entry for "
        f"{registry.host}; nothing was written to {tmp_path / 'anonymous'}\n"
    )
    assert not (tmp_path / "anonymous").exists()

    # A directory holding other files is not written to.
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.onnx").write_bytes(b"someone else's")
    refused = fetcher.run(uri, str(other), **login)
    assert (refused.returncode, refused.stderr) == (
        2,
        f"modelregistry fetch: {other} holds other files: fetch into a new or empty directory\n",
    )
    assert landed(other) == {"model.onnx": b"someone else's"}


def blob_file(registry: OciRegistry, digest: str) -> Path:
    """Where distribution's filesystem storage keeps a blob's bytes."""
    hexdigest = digest.removeprefix("sha256:")
    return (
        registry.workdir
        / "data/docker/registry/v2/blobs/sha256"
        / hexdigest[:2]
        / hexdigest
        / "data"
    )


def test_a_blob_tampered_in_the_registry_s_storage_ends_in_exit_3_and_dest_untouched(
    operator: OperatorProcess,
    objects: Objects,
    oci_registry: OciRegistry,
    fetcher: Fetcher,
    tmp_path: Path,
) -> None:
    artifact = push_artifact(oci_registry, "models/tampered", tmp_path)
    uri = ready_champion(objects, artifact, "tampered", registry={"plainHttp": True})
    stored = blob_file(oci_registry, artifact.weights)
    verified = stored.read_bytes()
    assert sha256(verified) == artifact.weights
    altered = bytearray(verified)
    altered[MIB] ^= 0xFF

    operator.stop()
    try:
        stored.write_bytes(bytes(altered))
        empty = tmp_path / "empty"
        empty.mkdir()
        for destination in (tmp_path / "new", empty):
            done = fetcher.run(uri, str(destination))
            assert (done.returncode, done.stdout) == (3, "")
            assert done.stderr == (
                "modelregistry fetch: layer 0 (model.onnx) is not the bytes its digest names: "
                f"expected {artifact.weights}, the registry served {sha256(bytes(altered))} "
                f"({uri}: tampered-1, {artifact.uri}); nothing was written to {destination}\n"
            )
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["empty", "home", "model.onnx", "docs.tar.gz", "modelpack-config.json"]
        )
        assert list(empty.iterdir()) == []
    finally:
        stored.write_bytes(verified)
        operator.start()


def test_a_registry_reached_at_another_address_is_pulled_from_there(
    operator: OperatorProcess,
    objects: Objects,
    oci_registry: OciRegistry,
    fetcher: Fetcher,
    tmp_path: Path,
) -> None:
    """MODELREGISTRY_REGISTRIES sends the pull elsewhere, and the digests still hold: a proxy
    that alters a blob is caught, naming the blob and both digests."""
    artifact = push_artifact(oci_registry, "models/mirrored", tmp_path)
    uri = ready_champion(objects, artifact, "mirrored", registry={"plainHttp": True})
    altered = bytearray(artifact.files["model.onnx"])
    altered[0] ^= 0xFF

    with HostileRegistry("127.0.0.1", oci_registry.port) as proxy:
        mapping = f"{oci_registry.host}={proxy.host}"
        done = fetcher.run(uri, str(tmp_path / "faithful"), MODELREGISTRY_REGISTRIES=mapping)
        assert done.returncode == 0, done.stderr
        assert landed(tmp_path / "faithful") == artifact.files
        assert proxy.seen_authorization, "the pull went through the proxy"

        proxy.altered_blobs.add(artifact.weights)
        done = fetcher.run(uri, str(tmp_path / "altered"), MODELREGISTRY_REGISTRIES=mapping)
        assert done.returncode == 3
        assert done.stderr == (
            "modelregistry fetch: layer 0 (model.onnx) is not the bytes its digest names: "
            f"expected {artifact.weights}, the registry served {sha256(bytes(altered))} "
            f"({uri}: mirrored-1, {artifact.uri}); nothing was written to {tmp_path / 'altered'}\n"
        )
        assert not (tmp_path / "altered").exists()

    closed = f"127.0.0.1:{free_port()}"
    done = fetcher.run(
        uri, str(tmp_path / "nowhere"), MODELREGISTRY_REGISTRIES=f"{oci_registry.host}={closed}"
    )
    assert done.returncode == 1
    assert f"cannot reach {oci_registry.host}: " in done.stderr
    assert (
        f"Where this machine reaches {oci_registry.host} under another address, say so: "
        f"MODELREGISTRY_REGISTRIES={oci_registry.host}=HOST:PORT" in done.stderr
    )

    malformed = fetcher.run(uri, str(tmp_path / "x"), MODELREGISTRY_REGISTRIES="a=http://b")
    assert (malformed.returncode, malformed.stderr) == (
        2,
        "modelregistry fetch: MODELREGISTRY_REGISTRIES: 'a=http://b': expected REGISTRY or "
        "REGISTRY=ENDPOINT, each a host[:port], e.g. registry.example.com or "
        "127.0.0.1:5000=10.0.0.1:31500\n",
    )
