"""Pushing model artifacts to the tests' registry with ORAS (the `oras` package from PyPI).

Blobs go up with oras' upload_blob, manifests with its upload_manifest, so
a test can push exactly the manifest it means (ModelPack with its
artifactType, a KitOps ModelKit without a mediaType, a layer under a
hostile path). The manifest digest a push yields is the registry's
Docker-Content-Digest, and equals `manifest_digest` of the same document,
computed before anything is pushed.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oras.client
import oras.oci

MODELPACK_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
MODELPACK_CONFIG = "application/vnd.cncf.model.config.v1+json"
MODELPACK_WEIGHT_RAW = "application/vnd.cncf.model.weight.v1.raw"
MODELPACK_WEIGHT_TAR = "application/vnd.cncf.model.weight.v1.tar"
MODELPACK_DOC_TAR_GZIP = "application/vnd.cncf.model.doc.v1.tar+gzip"
KITOPS_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
KITOPS_MODEL = "application/vnd.kitops.modelkit.model.v1.tar"
KITOPS_CODE_GZIP = "application/vnd.kitops.modelkit.code.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Pushed:
    digest: str
    manifest: dict[str, Any]
    blobs: dict[str, str]  # file name -> blob digest


def client(registry: str, username: str | None = None, password: str | None = None) -> Any:
    """An ORAS client of the tests' plain-HTTP registry (basic auth where given)."""
    found = oras.client.OrasClient(hostname=registry, insecure=True, auth_backend="basic")
    if username is not None and password is not None:
        found.auth.set_basic_auth(username, password)
    return found


def manifest_digest(manifest: dict[str, Any]) -> str:
    """The digest a manifest gets when oras uploads it (requests' JSON of the document)."""
    return "sha256:" + hashlib.sha256(json.dumps(manifest, allow_nan=False).encode()).hexdigest()


def descriptor(path: Path, media_type: str, **annotations: str) -> dict[str, Any]:
    layer: dict[str, Any] = dict(oras.oci.NewLayer(str(path), media_type=media_type))
    layer.pop("annotations", None)
    if annotations:
        layer["annotations"] = dict(annotations)
    return layer


def upload(found: Any, target: str, path: Path, layer: dict[str, Any]) -> None:
    response = found.upload_blob(str(path), target, layer)
    assert response.status_code in (200, 201, 202), response.text


def push(
    found: Any,
    target: str,
    layers: list[tuple[Path, dict[str, Any]]],
    config: tuple[Path, dict[str, Any]],
    **fields: Any,
) -> Pushed:
    """Upload the blobs, then the manifest of exactly these descriptors (and fields)."""
    for path, layer in [*layers, config]:
        upload(found, target, path, layer)
    manifest = {
        "schemaVersion": 2,
        **fields,
        "config": config[1],
        "layers": [layer for _, layer in layers],
    }
    response = found.upload_manifest(manifest, found.get_container(target))
    assert response.status_code in (200, 201), response.text
    digest = response.headers["Docker-Content-Digest"]
    assert digest == manifest_digest(manifest)
    return Pushed(digest, manifest, {p.name: layer["digest"] for p, layer in layers})


def modelpack(
    found: Any,
    target: str,
    files: list[tuple[Path, str]],
    workdir: Path,
    *,
    artifact_type: bool = True,
) -> Pushed:
    """A ModelPack artifact: each file one raw layer titled with its name (as `oras push` does)."""
    config = workdir / "modelpack-config.json"
    config.write_text(json.dumps({"descriptor": {"name": target}, "config": {"format": "onnx"}}))
    fields: dict[str, Any] = {"mediaType": OCI_MANIFEST}
    if artifact_type:
        fields["artifactType"] = MODELPACK_ARTIFACT_TYPE
    layers = [
        (path, descriptor(path, media_type, **{TITLE: path.name})) for path, media_type in files
    ]
    return push(found, target, layers, (config, descriptor(config, MODELPACK_CONFIG)), **fields)


def tar_of(members: dict[str, bytes], destination: Path, *, gzip: bool = False) -> Path:
    """A tar (gzip'd if asked) of `members`, name -> bytes (a name ending in / is a directory)."""
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w:gz" if gzip else "w", format=tarfile.PAX_FORMAT
    ) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o644, 0
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
                continue
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    destination.write_bytes(buffer.getvalue())
    return destination


def kitops(found: Any, target: str, layers: list[tuple[Path, str]], workdir: Path) -> Pushed:
    """A KitOps ModelKit: tar layers, the Kitfile as config, no mediaType in the manifest."""
    kitfile = workdir / "Kitfile.json"
    kitfile.write_text(json.dumps({"manifestVersion": "1.0", "package": {"name": target}}))
    described = [(path, descriptor(path, media_type)) for path, media_type in layers]
    return push(
        found,
        target,
        described,
        (kitfile, descriptor(kitfile, KITOPS_CONFIG)),
        annotations={"ml.kitops.modelkit.cli-version": "1.0.0"},
    )
