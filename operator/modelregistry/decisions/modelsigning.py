"""The OpenSSF model-signing format (the `model-signing` package, 1.x), read and written.

A signature is a Sigstore bundle (JSON, media type `BUNDLE_MEDIA_TYPE`)
holding a DSSE envelope. The envelope's payload is an in-toto Statement v1:

- `subject`: one entry, the model's name (informational) and a `sha256`
  over the resources' raw digests concatenated in the order listed;
- `predicateType`: `https://model_signing/signature/v1.0`;
- `predicate.serialization`: how the files were hashed (`method: files`,
  `hash_type: sha256`, `allow_symlinks`, and the `ignore_paths` the signer
  left out: the signature file itself, `.git`, ...);
- `predicate.resources`: one `{name, algorithm, digest}` per file, the path
  relative to the model's directory (`.` for a model that is one file),
  sorted by path component as model-signing sorts them.

The signature covers the DSSE pre-authentication encoding (`pae`) of the
payload, so the payload bytes are signed exactly as they are carried. The
bundle's verification material is a key hint (SHA-256 of the public key's
PEM) for key signing, or an X.509 chain for certificate signing.

Here the statement is compared with the files the operator hashed (the same
read that verified the digest): every file must be signed with its digest,
and every signed file must be there. Only the bundle itself may lie among
the files unsigned. This module does no cryptography (`signingkeys.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelregistry.digest import FileDigest, InvalidArtifactPathError, check_relative_path

BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE: Final = "https://model_signing/signature/v1.0"
# model-signing before 1.0: another predicate, and a PAE with a bug.
OLD_PREDICATE_TYPE: Final = "https://model_signing/Digests/v0.1"
# A model that is one file is signed as a resource of this name.
SINGLE_FILE: Final = "."
# model-signing's default name for the signature, inside the model's directory.
DEFAULT_BUNDLE_NAME: Final = "model.sig"
# What model-signing leaves out by default besides the signature.
GIT_PATHS: Final = (".git", ".gitattributes", ".github", ".gitignore")
# A bundle lists every file: a few hundred bytes each. Larger is not a bundle.
MAX_BUNDLE_BYTES: Final = 16 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# How many file names a message lists of each kind.
LISTED_NAMES: Final = 10


class BundleError(ValueError):
    """A bundle or statement that is not model-signing's format; the message says how."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature is over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


# --- the bundle ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bundle:
    """What a bundle carries, decoded; nothing verified yet."""

    payload_type: str
    payload: bytes
    signature: bytes
    key_hint: str | None = None  # key signing: hex SHA-256 of the public key's PEM
    certificates: tuple[bytes, ...] = ()  # certificate signing: DER, the signer's first


def parse_bundle(raw: bytes) -> Bundle:
    """Decode a bundle; raise BundleError saying what is not model-signing's format."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"it is {len(raw)} bytes, more than a bundle's {MAX_BUNDLE_BYTES}: not a bundle"
        )
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BundleError("it is not JSON: a model-signing bundle is a JSON document") from None
    bundle = _object(document, "the bundle")
    media_type = bundle.get("mediaType")
    if media_type != BUNDLE_MEDIA_TYPE:
        raise BundleError(
            f"its mediaType is {media_type!r}, not {BUNDLE_MEDIA_TYPE!r} (model-signing 1.x)"
        )
    if "dsseEnvelope" not in bundle:
        raise BundleError(
            "it holds no dsseEnvelope: it signs a blob, not a model (sign with model_signing)"
        )
    envelope = _object(bundle["dsseEnvelope"], "dsseEnvelope")
    signatures = _list(envelope.get("signatures"), "dsseEnvelope.signatures")
    if len(signatures) != 1:
        raise BundleError(
            f"dsseEnvelope holds {len(signatures)} signatures; model-signing writes exactly one"
        )
    material = _object(bundle.get("verificationMaterial"), "verificationMaterial")
    if "certificate" in material:
        raise BundleError(
            "it is a Sigstore keyless signature (a Fulcio certificate and a transparency log "
            "entry); verify with a public key or a certificate chain instead (see docs/signing.md)"
        )
    key_hint: str | None = None
    certificates: tuple[bytes, ...] = ()
    if "x509CertificateChain" in material:
        chain = _object(material["x509CertificateChain"], "x509CertificateChain")
        listed = _list(chain.get("certificates"), "x509CertificateChain.certificates")
        certificates = tuple(
            _base64(_object(c, "a certificate").get("rawBytes"), "a certificate's rawBytes")
            for c in listed
        )
        if not certificates:
            raise BundleError("its x509CertificateChain holds no certificate")
    elif "publicKey" in material:
        hint = _object(material["publicKey"], "verificationMaterial.publicKey").get("hint")
        if hint is not None and not isinstance(hint, str):
            raise BundleError("verificationMaterial.publicKey.hint is not a string")
        key_hint = hint or None
    else:
        raise BundleError("its verificationMaterial names neither a publicKey nor a certificate")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise BundleError("dsseEnvelope.payloadType is missing")
    return Bundle(
        payload_type=payload_type,
        payload=_base64(envelope.get("payload"), "dsseEnvelope.payload"),
        signature=_base64(_object(signatures[0], "a signature").get("sig"), "a signature's sig"),
        key_hint=key_hint,
        certificates=certificates,
    )


def bundle_bytes(
    payload: bytes,
    signature: bytes,
    *,
    key_hint: str | None = None,
    certificates: Sequence[bytes] = (),
) -> bytes:
    """A bundle as model-signing writes one (key hint, or a certificate chain)."""
    material: dict[str, Any]
    if certificates:
        encoded = [{"rawBytes": base64.b64encode(c).decode()} for c in certificates]
        material = {"x509CertificateChain": {"certificates": encoded}, "tlogEntries": []}
    else:
        material = {"publicKey": {"hint": key_hint}, "tlogEntries": []}
    document = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


# --- the statement -------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One signed file: its path (or `.`) and the hex SHA-256 of its bytes."""

    name: str
    digest: str


@dataclass(frozen=True)
class Statement:
    """What the signer signed: the model's name and every file's digest."""

    model_name: str
    resources: tuple[Resource, ...]
    ignore_paths: tuple[str, ...] = ()


def parse_statement(payload_type: str, payload: bytes) -> Statement:
    """Read the signed payload; raise BundleError when it is not a model-signing statement.

    The subject's digest must be the digest of the resources as listed, as
    model-signing checks it.
    """
    if payload_type != PAYLOAD_TYPE:
        raise BundleError(f"its payloadType is {payload_type!r}, not {PAYLOAD_TYPE!r}")
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise BundleError("its payload is not JSON") from None
    statement = _object(document, "the payload")
    if statement.get("_type") != STATEMENT_TYPE:
        raise BundleError(
            f"its payload is a {statement.get('_type')!r}, not an in-toto {STATEMENT_TYPE}"
        )
    predicate_type = statement.get("predicateType")
    if predicate_type == OLD_PREDICATE_TYPE:
        raise BundleError(
            f"it was made by model-signing before 1.0 ({OLD_PREDICATE_TYPE}): sign the model "
            "again with model-signing 1.x or `modelregistry register --sign-key`"
        )
    if predicate_type != PREDICATE_TYPE:
        raise BundleError(f"its predicateType is {predicate_type!r}, not {PREDICATE_TYPE!r}")
    subjects = _list(statement.get("subject"), "subject")
    if len(subjects) != 1:
        raise BundleError(f"it has {len(subjects)} subjects; a model's statement has one")
    subject = _object(subjects[0], "the subject")
    name = subject.get("name")
    declared_root = _object(subject.get("digest"), "the subject's digest").get("sha256")
    predicate = _object(statement.get("predicate"), "predicate")
    serialization = _object(predicate.get("serialization"), "predicate.serialization")
    method, hash_type = serialization.get("method"), serialization.get("hash_type")
    if method != "files":
        raise BundleError(
            f"its files were hashed by {method!r}, not whole ('files'): the operator compares "
            "whole-file SHA-256 digests, so sign without sharding"
        )
    if hash_type != "sha256":
        raise BundleError(
            f"its files were hashed with {hash_type!r}: the operator verifies SHA-256, so sign "
            "with sha256 (model-signing's default)"
        )
    ignored = serialization.get("ignore_paths", [])
    ignore_paths = tuple(str(p) for p in _list(ignored, "serialization.ignore_paths"))
    resources = tuple(
        _resource(item) for item in _list(predicate.get("resources"), "predicate.resources")
    )
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise BundleError(f"it lists {', '.join(twice[:LISTED_NAMES])} more than once")
    if SINGLE_FILE in names and len(names) > 1:
        raise BundleError("it lists '.' (a model that is one file) among other files")
    if declared_root != root_digest(resources):
        raise BundleError(
            "its subject's digest is not the digest of the files it lists: the statement is "
            "inconsistent"
        )
    return Statement(
        model_name=name if isinstance(name, str) else "",
        resources=resources,
        ignore_paths=ignore_paths,
    )


def _resource(item: object) -> Resource:
    resource = _object(item, "a resource")
    name, algorithm, digest = (resource.get(k) for k in ("name", "algorithm", "digest"))
    if not isinstance(name, str):
        raise BundleError("a resource has no name")
    if algorithm != "sha256":
        raise BundleError(f"resource {name!r} is hashed with {algorithm!r}, not sha256")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise BundleError(f"resource {name!r} has no hex SHA-256 digest")
    if name != SINGLE_FILE:
        try:
            check_relative_path(name)
        except InvalidArtifactPathError as error:
            raise BundleError(f"resource {error}") from None
    return Resource(name, digest)


def root_digest(resources: Iterable[Resource]) -> str:
    """The subject's digest: SHA-256 over the resources' raw digests, in order."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource.digest))
    return hasher.hexdigest()


def path_order(name: str) -> tuple[str, ...]:
    """Sort key of model-signing's resources: by path component (`a/b` before `a-b`)."""
    return tuple(name.split("/"))


def statement_for(
    files: Sequence[FileDigest],
    *,
    model_name: str,
    single_object: bool,
    ignore_paths: Sequence[str] = (),
) -> dict[str, Any]:
    """The statement model-signing would write for these files, as a JSON object."""
    if single_object:
        if len(files) != 1:
            raise ValueError("a single object is one file")
        resources = [Resource(SINGLE_FILE, files[0].hexdigest)]
    else:
        ordered = sorted(files, key=lambda f: path_order(f.path))
        resources = [Resource(f.path, f.hexdigest) for f in ordered]
    serialization: dict[str, Any] = {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
    }
    if ignore_paths:
        serialization["ignore_paths"] = list(ignore_paths)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root_digest(resources)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": serialization,
            "resources": [
                {"name": r.name, "algorithm": "sha256", "digest": r.digest} for r in resources
            ],
        },
    }


def payload_bytes(statement: Mapping[str, Any]) -> bytes:
    """The statement as the payload bytes that are signed and carried."""
    return json.dumps(statement, indent=2).encode()


# --- the statement against the files hashed -------------------------------------------


@dataclass(frozen=True)
class Differences:
    """How the signed files and the files there differ (paths, sorted)."""

    unsigned: tuple[str, ...] = ()  # there, not signed
    missing: tuple[str, ...] = ()  # signed, not there
    changed: tuple[str, ...] = ()  # there with other bytes than signed

    def __bool__(self) -> bool:
        return bool(self.unsigned or self.missing or self.changed)

    def describe(self) -> str:
        """The differences in words, a few names of each kind."""
        parts = []
        for what, names in (
            ("not signed", self.unsigned),
            ("signed but missing", self.missing),
            ("changed since signing", self.changed),
        ):
            if names:
                parts.append(f"{what}: {_names(names)}")
        return "; ".join(parts)


def compare(
    statement: Statement,
    files: Sequence[FileDigest],
    *,
    single_object: str | None = None,
    exempt: str | None = None,
) -> Differences:
    """The statement's files against the files hashed.

    `single_object`: the artifact is the one object of that name, signed as
    `.` (model-signing's name for a model that is one file) or by its name.
    `exempt`: the path of the bundle itself, where it lies among the files.
    """
    signed = {r.name: r.digest for r in statement.resources}
    if single_object is not None:
        there = {single_object: files[0].hexdigest} if files else {}
        if SINGLE_FILE in signed:
            signed[single_object] = signed.pop(SINGLE_FILE)
    else:
        there = {f.path: f.hexdigest for f in files if f.path != exempt}
    return Differences(
        unsigned=_sorted(there.keys() - signed.keys()),
        missing=_sorted(signed.keys() - there.keys()),
        changed=_sorted(n for n in signed.keys() & there.keys() if signed[n] != there[n]),
    )


def _sorted(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=path_order))


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:LISTED_NAMES])
    more = len(names) - LISTED_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


# --- JSON helpers ------------------------------------------------------------------------


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(f"{what} is not a JSON object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BundleError(f"{what} is not a list")
    return value


def _base64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{what} is not base64") from None
