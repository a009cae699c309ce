"""`oci://registry/repository@sha256:<hex>`: parsed, or refused in words that say the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from modelregistry.api.oci import OCI_DIGEST_URI_PATTERN, OCI_SCHEME

_DIGEST_URI: Final = re.compile(OCI_DIGEST_URI_PATTERN)
_TAG: Final = re.compile(r"^[\w][\w.-]{0,127}$")
# The longest repository name registries take (the distribution spec's limit).
MAX_NAME: Final = 255


class OciReferenceError(ValueError):
    """An oci:// URI that does not name one manifest by digest."""


@dataclass(frozen=True)
class OciReference:
    """One manifest, by digest, in one repository of one registry."""

    registry: str  # host[:port]
    repository: str
    digest: str  # sha256:<64 hex>

    @property
    def uri(self) -> str:
        return f"{OCI_SCHEME}{self.registry}/{self.repository}@{self.digest}"


def is_oci(uri: str) -> bool:
    return uri.startswith(OCI_SCHEME)


def parse(uri: str, field: str = "spec.artifact.uri") -> OciReference:
    """The reference `uri` names; OciReferenceError names `field` and the fix."""
    if not is_oci(uri):
        raise OciReferenceError(f"{field}: {uri!r} is not an oci:// reference")
    if _DIGEST_URI.match(uri):
        rest = uri[len(OCI_SCHEME) :]
        name, _, digest = rest.partition("@")
        registry, _, repository = name.partition("/")
        if len(repository) > MAX_NAME:
            raise OciReferenceError(
                f"{field}: the repository name is {len(repository)} characters long; "
                f"registries take at most {MAX_NAME}"
            )
        return OciReference(registry, repository, digest)
    raise OciReferenceError(f"{field}: {problem(uri)}")


def problem(uri: str) -> str:
    """What is wrong with an oci:// URI that is not `oci://registry/repository@sha256:<hex>`."""
    rest = uri[len(OCI_SCHEME) :]
    name, at, digest = rest.partition("@")
    registry, slash, repository = name.partition("/")
    if not slash or not registry or not repository:
        return (
            f"{uri!r} does not name a registry and a repository: write "
            "oci://REGISTRY/REPOSITORY@sha256:<digest>, "
            "e.g. oci://registry.example.com/models/churn@sha256:…"
        )
    if not at:
        tag = _tag_of(repository)
        what = f"the tag {tag!r}" if tag else "no digest"
        return (
            f"{uri!r} names {what}, not the manifest by digest. A tag can be moved by anyone "
            "who may push; write oci://REGISTRY/REPOSITORY@sha256:<manifest digest> (`oras "
            "push` prints the digest; `oras resolve REGISTRY/REPOSITORY:TAG` looks it up)"
        )
    if _tag_of(repository):
        return (
            f"{uri!r} names a tag and a digest: drop the ':{_tag_of(repository)}', the "
            "digest alone names the manifest"
        )
    if not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        return (
            f"{uri!r}: the digest must be sha256: and 64 lowercase hex digits (the manifest's "
            "SHA-256), not " + repr(digest)
        )
    return (
        f"{uri!r} is not a valid reference: the registry is a host name or address with an "
        "optional port, the repository lowercase path components (letters, digits, '.', "
        "'_', '-') joined by '/'"
    )


def _tag_of(repository: str) -> str | None:
    last = repository.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    return tag if colon and _TAG.match(tag) else None
