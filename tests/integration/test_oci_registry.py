"""The OCI registry client, verification and pull against a real registry (distribution v3).

Artifacts are pushed with ORAS; a hostile registry in front of the real one
serves other bytes for a digest, replaces a manifest, or redirects blob
reads elsewhere. No Kubernetes here: the operator's and the validation
Pod's code, called directly.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import oras.client
import pytest

from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.failures import BlobDigestMismatchError
from modelregistry.decisions.oci.reference import OciReference
from modelregistry.decisions.oci.unpack import UnpackError
from modelregistry.errors import (
    AccessDeniedError,
    ArtifactNotFoundError,
    CredentialsRejectedError,
    StorageUnreachableError,
)
from modelregistry.localenv.ociregistry import OciRegistry
from modelregistry.oci.pull import CONFIG_FILE, MANIFEST_FILE, pull
from modelregistry.oci.registry import Repository, new_pool
from modelregistry.oci.store import OciStore
from modelregistry.storage import ReadProgress
from tests.integration import ocipush
from tests.integration.conftest import OCI_PASSWORD, OCI_USER
from tests.integration.hostileregistry import BlobServer, HostileRegistry
from tests.integration.tokenserver import TokenServer

pytestmark = pytest.mark.integration


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def reference(registry: str, repository: str, digest: str) -> OciReference:
    return OciReference(registry, repository, digest)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "model.onnx").write_bytes(os.urandom(6 << 20))  # past one read chunk
    (tmp_path / "tokenizer.json").write_text('{"vocab": []}')
    return {p.name: p for p in (tmp_path / "model.onnx", tmp_path / "tokenizer.json")}


def push_modelpack(
    registry: OciRegistry, repository: str, files: dict[str, Path], tmp: Path
) -> ocipush.Pushed:
    return ocipush.modelpack(
        ocipush.client(registry.host),
        f"{registry.host}/{repository}:v1",
        [
            (files["model.onnx"], ocipush.MODELPACK_WEIGHT_RAW),
            (files["tokenizer.json"], "application/vnd.cncf.model.weight.config.v1.raw"),
        ],
        tmp,
    )


def test_a_modelpack_artifact_is_verified_blob_by_blob(
    oci_registry: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    pushed = push_modelpack(oci_registry, "models/churn", files, tmp_path)
    progress = ReadProgress()

    found = OciStore().hash_artifact(
        reference(oci_registry.host, "models/churn", pushed.digest), None, progress, plain_http=True
    )

    assert found.digest == pushed.digest
    assert found.manifest.layout == "ModelPack"
    assert found.manifest.artifact_type == ocipush.MODELPACK_ARTIFACT_TYPE
    model, tokenizer = found.files
    assert (model.path, model.digest, model.size) == (
        "model.onnx",
        sha256(files["model.onnx"].read_bytes()),
        6 << 20,
    )
    assert (tokenizer.path, tokenizer.digest) == (
        "tokenizer.json",
        sha256(files["tokenizer.json"].read_bytes()),
    )
    assert found.size == found.unpacked_size == (6 << 20) + len('{"vocab": []}')
    config = pushed.manifest["config"]
    expected, read, _ = progress.seen()
    assert expected == read == found.size + config["size"]


def test_a_kitops_modelkit_counts_what_its_gzip_layers_unpack_to(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    model = ocipush.tar_of({"model.onnx": b"m" * 5000}, tmp_path / "model.tar")
    code = ocipush.tar_of({"train.py": b"print(1)\n" * 20000}, tmp_path / "code.tgz", gzip=True)
    pushed = ocipush.kitops(
        ocipush.client(oci_registry.host),
        f"{oci_registry.host}/kits/churn:v1",
        [(model, ocipush.KITOPS_MODEL), (code, ocipush.KITOPS_CODE_GZIP)],
        tmp_path,
    )
    assert "mediaType" not in pushed.manifest

    found = OciStore().hash_artifact(
        reference(oci_registry.host, "kits/churn", pushed.digest), None, plain_http=True
    )

    assert found.manifest.layout == "KitOps"
    assert found.size == model.stat().st_size + code.stat().st_size
    inflated = len(gzip.decompress(code.read_bytes()))
    assert found.unpacked_size == model.stat().st_size + inflated > found.size


def test_a_digest_the_registry_does_not_have_is_not_found(oci_registry: OciRegistry) -> None:
    missing = sha256(b"never pushed")

    with pytest.raises(ArtifactNotFoundError) as raised:
        OciStore().hash_artifact(
            reference(oci_registry.host, "models/none", missing), None, plain_http=True
        )

    assert str(raised.value).startswith(
        f"{oci_registry.host} has no manifest {missing} in models/none (MANIFEST_UNKNOWN: "
    )


def test_a_tag_pushed_again_moves_the_tag_but_not_the_digest(
    oci_registry: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    first = push_modelpack(oci_registry, "models/retag", files, tmp_path)
    files["model.onnx"].write_bytes(os.urandom(1000))
    second = push_modelpack(oci_registry, "models/retag", files, tmp_path)
    assert second.digest != first.digest

    again = OciStore().hash_artifact(
        reference(oci_registry.host, "models/retag", first.digest), None, plain_http=True
    )

    assert again.digest == first.digest
    assert again.files[0].digest == first.blobs["model.onnx"] != second.blobs["model.onnx"]


def test_basic_auth_anonymous_refused_wrong_password_rejected_right_one_read(
    oci_registry_auth: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    host = oci_registry_auth.host
    pushed = ocipush.modelpack(
        ocipush.client(host, OCI_USER, OCI_PASSWORD),
        f"{host}/private/churn:v1",
        [(files["model.onnx"], ocipush.MODELPACK_WEIGHT_RAW)],
        tmp_path,
    )
    target = reference(host, "private/churn", pushed.digest)
    store = OciStore()

    with pytest.raises(AccessDeniedError) as anonymous:
        store.hash_artifact(target, None, plain_http=True)
    assert str(anonymous.value) == (
        f"{host} asks for a username and password (Basic) and none were given"
    )
    with pytest.raises(CredentialsRejectedError) as wrong:
        store.hash_artifact(target, RegistryCredentials(OCI_USER, "wrong"), plain_http=True)
    assert str(wrong.value) == (
        f"{host} refuses the credentials of {OCI_USER!r} for manifest {pushed.digest} in "
        "private/churn"
    )
    found = store.hash_artifact(
        target, RegistryCredentials(OCI_USER, OCI_PASSWORD), plain_http=True
    )
    assert found.digest == pushed.digest


def test_https_to_a_plain_http_registry_says_so(oci_registry: OciRegistry) -> None:
    with pytest.raises(StorageUnreachableError) as raised:
        OciStore().hash_artifact(reference(oci_registry.host, "m", sha256(b"x")), None)

    assert str(raised.value).startswith(
        f"TLS with {oci_registry.host} failed (a registry that speaks plain HTTP needs plainHTTP): "
    )


def test_a_registry_that_alters_a_layer_is_caught_naming_the_layer_and_both_digests(
    oci_registry: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    pushed = push_modelpack(oci_registry, "models/hostile", files, tmp_path)
    layer = pushed.blobs["model.onnx"]
    data = bytearray(files["model.onnx"].read_bytes())
    data[0] ^= 0xFF
    with HostileRegistry("127.0.0.1", oci_registry.port) as hostile:
        hostile.altered_blobs.add(layer)

        with pytest.raises(BlobDigestMismatchError) as raised:
            OciStore().hash_artifact(
                reference(hostile.host, "models/hostile", pushed.digest), None, plain_http=True
            )

    assert raised.value.blob == "layer 0 (model.onnx)"
    assert raised.value.expected == layer
    assert raised.value.observed == sha256(bytes(data))
    assert str(raised.value) == (
        f"{hostile.host} served bytes for layer 0 (model.onnx) that hash to {sha256(bytes(data))}, "
        f"not {layer}"
    )


def test_a_registry_that_serves_another_manifest_for_a_digest_is_caught(
    oci_registry: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    pushed = push_modelpack(oci_registry, "models/swap", files, tmp_path)
    other = json.dumps({**pushed.manifest, "annotations": {"swapped": "yes"}}).encode()
    with HostileRegistry("127.0.0.1", oci_registry.port) as hostile:
        hostile.replaced_manifests[pushed.digest] = other

        with pytest.raises(BlobDigestMismatchError) as raised:
            OciStore().hash_artifact(
                reference(hostile.host, "models/swap", pushed.digest), None, plain_http=True
            )

    assert (raised.value.blob, raised.value.expected, raised.value.observed) == (
        "the manifest",
        pushed.digest,
        sha256(other),
    )


def test_credentials_do_not_follow_a_redirect_to_another_host(
    oci_registry_auth: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    host = oci_registry_auth.host
    pushed = ocipush.modelpack(
        ocipush.client(host, OCI_USER, OCI_PASSWORD),
        f"{host}/private/redirected:v1",
        [(files["tokenizer.json"], ocipush.MODELPACK_WEIGHT_RAW)],
        tmp_path,
    )
    blobs = {
        pushed.manifest["config"]["digest"]: (tmp_path / "modelpack-config.json").read_bytes(),
        pushed.blobs["tokenizer.json"]: files["tokenizer.json"].read_bytes(),
    }
    with (
        BlobServer(blobs) as elsewhere,
        HostileRegistry("127.0.0.1", oci_registry_auth.port) as hostile,
    ):
        hostile.redirect_blobs_to = elsewhere.url
        found = OciStore().hash_artifact(
            reference(hostile.host, "private/redirected", pushed.digest),
            RegistryCredentials(OCI_USER, OCI_PASSWORD),
            plain_http=True,
        )

    assert found.digest == pushed.digest
    assert any(a and a.startswith("Basic ") for a in hostile.seen_authorization)
    assert elsewhere.seen_authorization == [None, None]


def test_pull_lays_out_files_and_tars_and_hands_over_the_manifest_and_config(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 << 20))
    config_tar = ocipush.tar_of(
        {"./": b"", "config/tokenizer.json": b"{}", "config/vocab.txt": b"a\nb\n"},
        tmp_path / "config.tar",
    )
    docs = ocipush.tar_of({"README.md": b"# churn\n"}, tmp_path / "docs.tgz", gzip=True)
    found = ocipush.client(oci_registry.host)
    layers = [
        (
            weights,
            ocipush.descriptor(
                weights,
                ocipush.MODELPACK_WEIGHT_RAW,
                **{"org.cncf.model.filepath": "model/weights.bin"},
            ),
        ),
        (
            config_tar,
            ocipush.descriptor(config_tar, "application/vnd.cncf.model.weight.config.v1.tar"),
        ),
        (docs, ocipush.descriptor(docs, ocipush.MODELPACK_DOC_TAR_GZIP)),
    ]
    config = tmp_path / "c.json"
    config.write_text('{"descriptor": {}}')
    pushed = ocipush.push(
        found,
        f"{oci_registry.host}/models/pull:v1",
        layers,
        (config, ocipush.descriptor(config, ocipush.MODELPACK_CONFIG)),
        mediaType=ocipush.OCI_MANIFEST,
        artifactType=ocipush.MODELPACK_ARTIFACT_TYPE,
    )
    repository = Repository(new_pool(), oci_registry.host, "models/pull", None, plain_http=True)
    destination, meta = tmp_path / "artifact", tmp_path / "meta"
    destination.mkdir()

    pulled = pull(
        repository, reference(oci_registry.host, "models/pull", pushed.digest), destination, meta
    )

    assert pulled.files == 4
    assert sorted(
        p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file()
    ) == [
        "README.md",
        "config/tokenizer.json",
        "config/vocab.txt",
        "model/weights.bin",
    ]
    assert (destination / "model/weights.bin").read_bytes() == weights.read_bytes()
    assert (destination / "README.md").read_text() == "# churn\n"
    assert sha256((meta / MANIFEST_FILE).read_bytes()) == pushed.digest
    assert (meta / CONFIG_FILE).read_bytes() == config.read_bytes()


def test_pull_of_altered_bytes_leaves_nothing_behind(
    oci_registry: OciRegistry, files: dict[str, Path], tmp_path: Path
) -> None:
    pushed = push_modelpack(oci_registry, "models/pullhostile", files, tmp_path)
    destination = tmp_path / "artifact"
    destination.mkdir()
    with HostileRegistry("127.0.0.1", oci_registry.port) as hostile:
        hostile.altered_blobs.add(pushed.blobs["tokenizer.json"])
        repository = Repository(
            new_pool(), hostile.host, "models/pullhostile", None, plain_http=True
        )

        with pytest.raises(BlobDigestMismatchError, match=r"layer 1 \(tokenizer\.json\)"):
            pull(
                repository,
                reference(hostile.host, "models/pullhostile", pushed.digest),
                destination,
            )

    assert list(destination.iterdir()) == []


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../escaped.txt": b"x"}, "holds '../escaped.txt': a path must be relative"),
        ({"/etc/cron.d/x": b"x"}, "holds '/etc/cron.d/x': a path must be relative"),
    ],
)
def test_pull_refuses_a_tar_whose_names_would_land_outside(
    oci_registry: OciRegistry, tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    """Digests prove who pushed the bytes, not that the bytes are harmless."""
    archive = ocipush.tar_of({"ok.txt": b"fine", **members}, tmp_path / "evil.tar")
    pushed = ocipush.kitops(
        ocipush.client(oci_registry.host),
        f"{oci_registry.host}/kits/evil:v1",
        [(archive, ocipush.KITOPS_MODEL)],
        tmp_path,
    )
    destination = tmp_path / "artifact"
    destination.mkdir()
    repository = Repository(new_pool(), oci_registry.host, "kits/evil", None, plain_http=True)

    with pytest.raises(UnpackError, match=message):
        pull(repository, reference(oci_registry.host, "kits/evil", pushed.digest), destination)

    assert list(destination.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_pull_refuses_links_and_a_layer_past_its_room(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    (tmp_path / "link.tar").write_bytes(buffer.getvalue())
    bomb = ocipush.tar_of({"zeros.bin": b"\0" * (8 << 20)}, tmp_path / "bomb.tgz", gzip=True)
    found = ocipush.client(oci_registry.host)
    linked = ocipush.kitops(
        found,
        f"{oci_registry.host}/kits/link:v1",
        [(tmp_path / "link.tar", ocipush.KITOPS_MODEL)],
        tmp_path,
    )
    bombed = ocipush.kitops(
        found, f"{oci_registry.host}/kits/bomb:v1", [(bomb, ocipush.KITOPS_CODE_GZIP)], tmp_path
    )
    destination = tmp_path / "artifact"
    destination.mkdir()

    with pytest.raises(UnpackError, match="which is not a regular file or directory"):
        pull(
            Repository(new_pool(), oci_registry.host, "kits/link", None, plain_http=True),
            reference(oci_registry.host, "kits/link", linked.digest),
            destination,
        )
    with pytest.raises(UnpackError, match="would write past the room"):
        pull(
            Repository(new_pool(), oci_registry.host, "kits/bomb", None, plain_http=True),
            reference(oci_registry.host, "kits/bomb", bombed.digest),
            destination,
            limit=bomb.stat().st_size * 2,
        )
    assert list(destination.iterdir()) == []


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[tuple[OciRegistry, TokenServer]]:
    """A registry that takes only bearer tokens, from a token service knowing OCI_USER."""
    with (
        TokenServer(tmp_path, {OCI_USER: OCI_PASSWORD}) as tokens,
        OciRegistry(tmp_path / "registry", token=tokens.registry_auth()) as registry,
    ):
        yield registry, tokens


def test_bearer_tokens_asked_for_with_the_credentials_and_refused_without(
    token_registry: tuple[OciRegistry, TokenServer], files: dict[str, Path], tmp_path: Path
) -> None:
    registry, tokens = token_registry
    pusher = oras.client.OrasClient(hostname=registry.host, insecure=True, auth_backend="token")
    pusher.auth.set_basic_auth(OCI_USER, OCI_PASSWORD)
    pushed = ocipush.modelpack(
        pusher,
        f"{registry.host}/private/tokened:v1",
        [(files["tokenizer.json"], ocipush.MODELPACK_WEIGHT_RAW)],
        tmp_path,
    )
    target = reference(registry.host, "private/tokened", pushed.digest)
    store = OciStore()
    tokens.requests.clear()

    found = store.hash_artifact(
        target, RegistryCredentials(OCI_USER, OCI_PASSWORD), plain_http=True
    )

    assert found.digest == pushed.digest
    # One token for the whole artifact, asked for pull on its repository alone.
    assert tokens.requests == [(OCI_USER, ["repository:private/tokened:pull"])]
    with pytest.raises(CredentialsRejectedError) as wrong:
        store.hash_artifact(target, RegistryCredentials(OCI_USER, "wrong"), plain_http=True)
    assert str(wrong.value) == (
        f"{registry.host} refuses the credentials of {OCI_USER!r} for a pull token for "
        "private/tokened in private/tokened"
    )
    with pytest.raises(AccessDeniedError) as anonymous:
        store.hash_artifact(target, None, plain_http=True)
    assert str(anonymous.value) == (
        f"{registry.host} refuses anonymous access to manifest {pushed.digest} in private/tokened"
    )
    tokens.anonymous_pull = True
    assert OciStore().hash_artifact(target, None, plain_http=True).digest == pushed.digest
