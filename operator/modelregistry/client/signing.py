"""Sign an artifact from the digests its upload computed: an OpenSSF model-signing bundle.

`register --sign-key` hashes every file once, on its way to the store; the
statement is built from those digests, so signing reads no byte a second
time. The bundle is the one model-signing's `sign key` writes for the same
files: `model_signing verify key` accepts it, and so does the operator.

Where it goes: `model.sig` inside a directory's prefix (model-signing's own
name, so a copy of the prefix verifies with its CLI as it is), or the
object's key plus `.sig` next to a single object.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import kubernetes
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from kubernetes.client.exceptions import ApiException

from modelregistry import signingkeys
from modelregistry.client.errors import RegistryError
from modelregistry.client.session import Session
from modelregistry.decisions import modelsigning
from modelregistry.digest import ArtifactDigest, FileDigest, prefix_artifact
from modelregistry.signingkeys import KeyProblem
from modelregistry.storage import S3Location

log = logging.getLogger(__name__)
SIGNATURE_SUFFIX = ".sig"
# Where a password for an encrypted signing key comes from (never a command-line argument).
PASSWORD_VARIABLE = "MODELREGISTRY_SIGNING_KEY_PASSWORD"  # noqa: S105 -- a variable's name


@dataclass(frozen=True)
class SigningSettings:
    """How `register` signs: the private key, and the ConfigMap entry with its public half."""

    key_path: Path
    config_map: str
    config_map_key: str
    password: str | None = None

    @classmethod
    def parse_public_key(cls, text: str) -> tuple[str, str]:
        """CONFIGMAP/KEY, as --public-key takes it."""
        name, slash, key = text.partition("/")
        if not slash or not name or not key or "/" in key:
            raise ValueError(f"{text!r}: write CONFIGMAP/KEY, e.g. signing-keys/team-a.pub")
        return name, key

    def spec(self, bundle_uri: str) -> dict[str, Any]:
        """spec.artifact.signature for a bundle at `bundle_uri`."""
        return {
            "uri": bundle_uri,
            "publicKey": {"name": self.config_map, "key": self.config_map_key},
        }


@dataclass(frozen=True)
class SigningKey:
    """A private key to sign with, and the fingerprint of its public half."""

    key: EllipticCurvePrivateKey
    fingerprint: str


def load_signing_key(path: Path, password: str | None = None) -> SigningKey:
    """Read a PEM private key (model-signing's kind: ECDSA on P-256, P-384 or P-521)."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise RegistryError(f"signing key {path}: {error.strerror or error}") from None
    try:
        key = signingkeys.load_private_key(
            pem, password.encode() if password is not None else None, f"signing key {path}"
        )
    except KeyProblem as problem:
        raise RegistryError(str(problem)) from None
    return SigningKey(key, signingkeys.fingerprint(key.public_key()))


def bundle_location(artifact: S3Location) -> S3Location:
    """Where the bundle of an artifact goes: inside a prefix, or next to one object."""
    if artifact.is_prefix:
        return S3Location(artifact.bucket, artifact.key + modelsigning.DEFAULT_BUNDLE_NAME)
    return S3Location(artifact.bucket, artifact.key + SIGNATURE_SUFFIX)


def signed_bundle(
    files: Sequence[FileDigest],
    key: EllipticCurvePrivateKey,
    *,
    model_name: str,
    single_object: bool,
    ignore_paths: Sequence[str] = (),
) -> bytes:
    """The bundle that signs `files` (their paths and digests) with `key`."""
    statement = modelsigning.statement_for(
        files, model_name=model_name, single_object=single_object, ignore_paths=ignore_paths
    )
    payload = modelsigning.payload_bytes(statement)
    signature = signingkeys.sign(key, modelsigning.pae(modelsigning.PAYLOAD_TYPE, payload))
    return modelsigning.bundle_bytes(
        payload, signature, key_hint=signingkeys.key_hint(key.public_key())
    )


def check_local(path: Path) -> None:
    """Refuse a directory that holds a file where its bundle goes."""
    if path.is_dir() and (path / modelsigning.DEFAULT_BUNDLE_NAME).exists():
        raise RegistryError(
            f"{path / modelsigning.DEFAULT_BUNDLE_NAME} exists, where --sign-key puts the "
            "signature: remove it (it would be a file the new signature does not cover)"
        )


def check_public_key(session: Session, settings: SigningSettings, signing: SigningKey) -> None:
    """The ConfigMap entry the version will name must hold the signing key's public half.

    Checked before any upload. A caller who may not read ConfigMaps is told
    so, and the registration goes on: the operator checks it anyway.
    """
    where = f"ConfigMap {settings.config_map!r} in namespace {session.namespace!r}"
    fix = (
        f"kubectl create configmap {settings.config_map} "
        f"--from-file={settings.config_map_key}=PUBLIC_KEY.pem"
    )
    try:
        found = kubernetes.client.CoreV1Api(session.api).read_namespaced_config_map(
            settings.config_map, session.namespace
        )
    except ApiException as error:
        if error.status == 404:
            raise RegistryError(f"{where} does not exist: create it ({fix})") from None
        if error.status == 403:
            log.warning("could not check that %s holds the public key: forbidden", where)
            return
        raise RegistryError(f"reading {where}: {error.reason}") from None
    text = (found.data or {}).get(settings.config_map_key)
    if text is None:
        raise RegistryError(f"{where} has no key {settings.config_map_key!r}: add it ({fix})")
    try:
        public = signingkeys.load_public_key(
            text.encode(), f"{where} key {settings.config_map_key!r}"
        )
    except KeyProblem as problem:
        raise RegistryError(str(problem)) from None
    if signingkeys.fingerprint(public) != signing.fingerprint:
        raise RegistryError(
            f"{where} key {settings.config_map_key!r} holds {signingkeys.fingerprint(public)}, "
            f"not the public half of the signing key ({signing.fingerprint}): sign with the "
            "key it names, or name the entry that holds yours (--public-key)"
        )


def sign_upload(
    client: Any,
    artifact: ArtifactDigest,
    location: S3Location,
    signing: SigningKey,
    *,
    model_name: str,
) -> tuple[S3Location, ArtifactDigest]:
    """Sign the uploaded files (their digests, no byte read again) and upload the bundle.

    Returns where the bundle went and the artifact as the operator will hash
    it: with the bundle among a prefix's files.
    """
    bundle_at = bundle_location(location)
    ignore = [modelsigning.DEFAULT_BUNDLE_NAME] if location.is_prefix else []
    bundle = signed_bundle(
        artifact.files,
        signing.key,
        model_name=model_name,
        single_object=not location.is_prefix,
        ignore_paths=ignore,
    )
    checksum = hashlib.sha256(bundle).digest()
    try:
        client.put_object(
            Bucket=bundle_at.bucket,
            Key=bundle_at.key,
            Body=bundle,
            ChecksumSHA256=base64.b64encode(checksum).decode(),
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise RegistryError(f"uploading the signature to {bundle_at.uri}: {error}") from None
    if not location.is_prefix:
        return bundle_at, artifact
    entry = FileDigest(modelsigning.DEFAULT_BUNDLE_NAME, checksum.hex(), len(bundle))
    return bundle_at, prefix_artifact([*artifact.files, entry])
