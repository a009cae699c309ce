"""What a verified OCI artifact leaves in status: the manifest and every blob's digest."""

from __future__ import annotations

from dataclasses import dataclass

from modelregistry.api.oci import OciDescriptor, VerifiedOciManifest
from modelregistry.decisions.oci.manifest import Descriptor, ModelManifest
from modelregistry.decisions.oci.reference import OciReference
from modelregistry.digest import ArtifactDigest, FileDigest


@dataclass(frozen=True)
class OciArtifactDigest(ArtifactDigest):
    """A hashed OCI artifact: the digest is the manifest's, each file one verified layer."""

    reference: OciReference
    manifest: ModelManifest
    unpacked_size: int


def hashed(
    reference: OciReference,
    manifest: ModelManifest,
    layers: tuple[FileDigest, ...],
    unpacked_size: int,
) -> OciArtifactDigest:
    """The outcome once the manifest hashed to the reference's digest and every layer to its own.

    Its size is the layers' together (the model's bytes), its files the layers in order;
    `unpacked_size` what they take once unpacked, at most (gzip layers inflated).
    """
    return OciArtifactDigest(
        digest=reference.digest,
        size=manifest.size,
        files=layers,
        is_prefix=False,
        reference=reference,
        manifest=manifest,
        unpacked_size=unpacked_size,
    )


def record(observed: OciArtifactDigest) -> VerifiedOciManifest:
    manifest = observed.manifest
    return VerifiedOciManifest(
        registry=observed.reference.registry,
        repository=observed.reference.repository,
        layout=manifest.layout,
        media_type=manifest.media_type,
        artifact_type=manifest.artifact_type,
        config=_descriptor(manifest.config, None),
        layers=[_descriptor(layer.descriptor, layer.path) for layer in manifest.layers],
        unpacked_size=observed.unpacked_size,
    )


def _descriptor(item: Descriptor, path: str | None) -> OciDescriptor:
    return OciDescriptor(media_type=item.media_type, digest=item.digest, size=item.size, path=path)
