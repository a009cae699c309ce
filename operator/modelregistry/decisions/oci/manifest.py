"""OCI manifests of model artifacts: CNCF ModelPack and KitOps ModelKit.

A manifest is read only after its bytes hashed to the digest the URI names
(the caller checks), so everything it says is what the version's author
pushed. It must still be a manifest the operator can lay out: an OCI image
manifest (schemaVersion 2) of one of two layouts, every blob named by a
SHA-256 digest and a size.

- ModelPack (github.com/modelpack/model-spec): artifactType, or config
  mediaType, `application/vnd.cncf.model.*`; layers
  `application/vnd.cncf.model.{weight,weight.config,doc,code,dataset}.v1.{raw,tar,tar+gzip,tar+zstd}`.
- KitOps (github.com/kitops-ml/kitops, pkg/lib/constants/mediaType.go): config
  `application/vnd.kitops.modelkit.config.v1+json` (the Kitfile); layers
  `application/vnd.kitops.modelkit.<kind>.v1.tar[+gzip]`. KitOps writes no
  mediaType in the manifest itself: the registry's Content-Type says it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final, Literal

from modelregistry.api.oci import OciLayout

MANIFEST_MEDIA_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE: Final = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
# What the operator asks the registry for: the manifest it can read, and the
# others only so that it can say what they are.
ACCEPT: Final = (MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE, DOCKER_MANIFEST, DOCKER_LIST)

MODELPACK_ARTIFACT_TYPE: Final = "application/vnd.cncf.model.manifest.v1+json"
MODELPACK_CONFIG: Final = "application/vnd.cncf.model.config.v1+json"
KITOPS_CONFIG: Final = "application/vnd.kitops.modelkit.config.v1+json"
_MODELPACK_LAYER: Final = re.compile(
    r"^application/vnd\.cncf\.model\.(weight|weight\.config|doc|code|dataset)\.v1\."
    r"(raw|tar|tar\+gzip|tar\+zstd)$"
)
_KITOPS_LAYER: Final = re.compile(r"^application/vnd\.kitops\.modelkit\.(\w+)\.v1\.tar(\+gzip)?$")
_SHA256: Final = re.compile(r"^sha256:[a-f0-9]{64}$")
_MEDIA_TYPE: Final = re.compile(r"^[A-Za-z0-9][\w.+-]{0,126}/[A-Za-z0-9][\w.+-]{0,126}$")

# Registries refuse larger manifests (distribution's limit); a config is read whole too.
MAX_MANIFEST_BYTES: Final = 4 << 20
MAX_CONFIG_BYTES: Final = 4 << 20
MAX_LAYERS: Final = 1000

# Where a layer that is one file says it lies: ModelPack's annotation, else ORAS's title.
FILEPATH_ANNOTATION: Final = "org.cncf.model.filepath"
TITLE_ANNOTATION: Final = "org.opencontainers.image.title"

Packing = Literal["file", "tar"]
Compression = Literal["gzip", "zstd"]


class ManifestError(ValueError):
    """Bytes that are not a model manifest the operator can verify and lay out."""


@dataclass(frozen=True)
class Descriptor:
    """A blob as the manifest names it."""

    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        return next((v for k, v in self.annotations if k == key), None)


@dataclass(frozen=True)
class Layer:
    """A layer and how it becomes files: one file at `path`, or a tar to unpack."""

    descriptor: Descriptor
    packing: Packing
    compression: Compression | None = None
    path: str | None = None


@dataclass(frozen=True)
class ModelManifest:
    layout: OciLayout
    media_type: str
    artifact_type: str | None
    config: Descriptor
    layers: tuple[Layer, ...]

    @property
    def size(self) -> int:
        """Bytes of every layer together: what the artifact holds."""
        return sum(layer.descriptor.size for layer in self.layers)


def parse(raw: bytes, content_type: str | None = None) -> ModelManifest:
    """The model manifest in `raw`, or ManifestError saying what it is instead."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"the manifest is {len(raw)} bytes; at most {MAX_MANIFEST_BYTES}")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"the manifest is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ManifestError("the manifest is not a JSON object")
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2:
        raise ManifestError(
            f"schemaVersion is {document.get('schemaVersion')!r}; an OCI manifest has 2"
        )
    config = descriptor(document.get("config"), "config")
    if config.size > MAX_CONFIG_BYTES:
        raise ManifestError(
            f"the config is {config.size} bytes; a model's config is a small JSON document "
            f"(at most {MAX_CONFIG_BYTES})"
        )
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ManifestError("the manifest lists no layers: there are no model files in it")
    if len(raw_layers) > MAX_LAYERS:
        raise ManifestError(f"the manifest lists {len(raw_layers)} layers; at most {MAX_LAYERS}")
    descriptors = [descriptor(item, f"layers[{i}]") for i, item in enumerate(raw_layers)]
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestError("artifactType is not a string")
    layout = layout_of(artifact_type, config.media_type)
    layers = tuple(layer_of(d, layout, i) for i, d in enumerate(descriptors))
    _check_paths(layers)
    return ModelManifest(layout, media_type, artifact_type, config, layers)


def _media_type(document: dict[str, object], content_type: str | None) -> str:
    declared = document.get("mediaType")
    media_type = declared if isinstance(declared, str) else _bare(content_type)
    if media_type in (INDEX_MEDIA_TYPE, DOCKER_LIST) or "manifests" in document:
        raise ManifestError(
            "the digest names an index (a list of manifests), not one artifact: name the "
            "digest of the model's own manifest in it (`oras manifest fetch` shows the list)"
        )
    if media_type == DOCKER_MANIFEST:
        raise ManifestError(
            "the digest names a Docker image manifest, not an OCI model artifact (ModelPack "
            "or KitOps)"
        )
    # KitOps leaves mediaType out of the manifest; a registry then serves its own default.
    if declared is None and media_type in (
        None,
        "",
        "application/json",
        "application/octet-stream",
    ):
        return MANIFEST_MEDIA_TYPE
    if media_type != MANIFEST_MEDIA_TYPE:
        raise ManifestError(
            f"the manifest's media type is {media_type!r}, not {MANIFEST_MEDIA_TYPE}"
        )
    return media_type


def _bare(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip() if content_type else None


def descriptor(item: object, where: str) -> Descriptor:
    """A blob descriptor: mediaType, a sha256 digest, a size and string annotations."""
    if not isinstance(item, dict):
        raise ManifestError(f"{where} is not a descriptor (an object)")
    media_type, digest, size = item.get("mediaType"), item.get("digest"), item.get("size")
    if not isinstance(media_type, str) or not _MEDIA_TYPE.match(media_type):
        raise ManifestError(f"{where}.mediaType is {media_type!r}, not a media type")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        algorithm = digest.partition(":")[0] if isinstance(digest, str) else None
        detail = f" ({algorithm})" if algorithm and algorithm != "sha256" else ""
        raise ManifestError(
            f"{where}.digest is {digest!r}{detail}: the operator verifies sha256 digests only"
        )
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}.size is {size!r}, not a byte count")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise ManifestError(f"{where}.annotations is not a map of strings")
    return Descriptor(media_type, digest, size, tuple(sorted(annotations.items())))


def layout_of(artifact_type: str | None, config_media_type: str) -> OciLayout:
    if artifact_type == MODELPACK_ARTIFACT_TYPE or config_media_type == MODELPACK_CONFIG:
        return "ModelPack"
    if config_media_type == KITOPS_CONFIG:
        return "KitOps"
    raise ManifestError(
        f"not a model artifact: artifactType {artifact_type!r}, config {config_media_type!r}. "
        f"The operator reads CNCF ModelPack (artifactType {MODELPACK_ARTIFACT_TYPE} or config "
        f"{MODELPACK_CONFIG}) and KitOps ModelKits (config {KITOPS_CONFIG})"
    )


def layer_of(item: Descriptor, layout: OciLayout, index: int) -> Layer:
    """How layer `index` becomes files, by its media type in `layout`."""
    where = f"layers[{index}] ({item.digest})"
    if layout == "ModelPack":
        found = _MODELPACK_LAYER.match(item.media_type)
        if found is None:
            raise ManifestError(
                f"{where} has media type {item.media_type!r}, not a ModelPack layer "
                "(application/vnd.cncf.model.<weight|weight.config|doc|code|dataset>.v1."
                "<raw|tar|tar+gzip|tar+zstd>)"
            )
        packing = found.group(2)
        if packing == "raw":
            return Layer(item, "file", path=_file_path(item, where))
        return Layer(item, "tar", _compression(packing))
    found = _KITOPS_LAYER.match(item.media_type)
    if found is None or found.group(1) == "config":
        raise ManifestError(
            f"{where} has media type {item.media_type!r}, not a KitOps layer "
            "(application/vnd.kitops.modelkit.<kind>.v1.tar[+gzip])"
        )
    return Layer(item, "tar", "gzip" if found.group(2) else None)


def _compression(packing: str) -> Compression | None:
    if packing == "tar+gzip":
        return "gzip"
    if packing == "tar+zstd":
        return "zstd"
    return None


def _file_path(item: Descriptor, where: str) -> str:
    path = item.annotation(FILEPATH_ANNOTATION) or item.annotation(TITLE_ANNOTATION)
    if not path:
        raise ManifestError(
            f"{where} is one file but names no path: annotate it with {FILEPATH_ANNOTATION} "
            f"or {TITLE_ANNOTATION} (`oras push FILE:TYPE` sets the title)"
        )
    segments = path.split("/")
    if (
        path.startswith("/")
        or any(s in ("", ".", "..") for s in segments)
        or any(ord(c) < 0x20 or c in "\\\x7f" for c in path)
    ):
        raise ManifestError(
            f"{where} names the path {path!r}: a path must be relative, each segment a name "
            "(no '', '.' or '..'), without control characters or backslashes"
        )
    return path


def _check_paths(layers: tuple[Layer, ...]) -> None:
    """No two file layers at one path, and none under another's path."""
    paths = [layer.path for layer in layers if layer.path is not None]
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise ManifestError(f"two layers are both at {path!r}: each file needs its own path")
        seen.add(path)
    for path in paths:
        parts = path.split("/")
        for cut in range(1, len(parts)):
            if (parent := "/".join(parts[:cut])) in seen:
                raise ManifestError(
                    f"one layer is the file {parent!r} and another lies under it at {path!r}"
                )
