"""oci:// references: one manifest by digest, or a refusal that names the field and the fix."""

from __future__ import annotations

import re

import pytest

from modelregistry.api.oci import OCI_DIGEST_URI_PATTERN
from modelregistry.decisions.oci.reference import (
    MAX_NAME,
    OciReference,
    OciReferenceError,
    is_oci,
    parse,
    problem,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("uri", "registry", "repository"),
    [
        (
            f"oci://registry.example.com/models/churn@{DIGEST}",
            "registry.example.com",
            "models/churn",
        ),
        (f"oci://127.0.0.1:5000/churn@{DIGEST}", "127.0.0.1:5000", "churn"),
        (f"oci://localhost/a/b/c@{DIGEST}", "localhost", "a/b/c"),
        (f"oci://[::1]:5000/m@{DIGEST}", "[::1]:5000", "m"),
        (
            f"oci://Registry.Example.com/a.b_c__d-e--f@{DIGEST}",
            "Registry.Example.com",
            "a.b_c__d-e--f",
        ),
    ],
)
def test_a_digest_reference_is_parsed_into_its_parts(
    uri: str, registry: str, repository: str
) -> None:
    reference = parse(uri)

    assert reference == OciReference(registry, repository, DIGEST)
    assert reference.uri == uri
    assert is_oci(uri)


def test_s3_uris_are_not_oci() -> None:
    assert not is_oci("s3://bucket/key")
    with pytest.raises(
        OciReferenceError, match=r"^spec\.x: 's3://b/k' is not an oci:// reference$"
    ):
        parse("s3://b/k", "spec.x")


def test_a_tag_alone_is_refused_naming_the_tag_the_field_and_how_to_find_the_digest() -> None:
    with pytest.raises(OciReferenceError) as refused:
        parse("oci://registry.example.com/models/churn:v3", "spec.components[1].artifact.uri")

    assert str(refused.value) == (
        "spec.components[1].artifact.uri: 'oci://registry.example.com/models/churn:v3' names "
        "the tag 'v3', not the manifest by digest. A tag can be moved by anyone who may push; "
        "write oci://REGISTRY/REPOSITORY@sha256:<manifest digest> (`oras push` prints the "
        "digest; `oras resolve REGISTRY/REPOSITORY:TAG` looks it up)"
    )


def test_a_reference_with_neither_tag_nor_digest_says_it_names_no_digest() -> None:
    assert problem("oci://registry.example.com/models/churn").startswith(
        "'oci://registry.example.com/models/churn' names no digest, not the manifest by digest."
    )


def test_a_port_is_not_taken_for_a_tag() -> None:
    assert "names no digest" in problem("oci://127.0.0.1:5000/churn")


def test_a_tag_and_a_digest_together_are_refused_saying_to_drop_the_tag() -> None:
    assert problem(f"oci://r.example.com/m:v1@{DIGEST}") == (
        f"'oci://r.example.com/m:v1@{DIGEST}' names a tag and a digest: drop the ':v1', the "
        "digest alone names the manifest"
    )


@pytest.mark.parametrize(
    "uri", ["oci://churn@" + DIGEST, "oci:///churn@" + DIGEST, "oci://registry.example.com@x"]
)
def test_a_reference_without_a_registry_or_repository_says_how_to_write_one(uri: str) -> None:
    assert problem(uri).endswith(
        "does not name a registry and a repository: write "
        "oci://REGISTRY/REPOSITORY@sha256:<digest>, e.g. "
        "oci://registry.example.com/models/churn@sha256:…"
    )


@pytest.mark.parametrize(
    "digest",
    ["sha512:" + "ab" * 64, "sha256:" + "AB" * 32, "sha256:" + "ab" * 31, "sha256:" + "ab" * 33],
)
def test_a_digest_that_is_not_sha256_hex_is_named(digest: str) -> None:
    uri = f"oci://r.example.com/m@{digest}"

    assert problem(uri) == (
        f"{uri!r}: the digest must be sha256: and 64 lowercase hex digits (the manifest's "
        f"SHA-256), not {digest!r}"
    )
    with pytest.raises(OciReferenceError):
        parse(uri)


@pytest.mark.parametrize(
    "uri",
    [
        f"oci://r.example.com/Models@{DIGEST}",  # repositories are lowercase
        f"oci://r.example.com/a//b@{DIGEST}",
        f"oci://r.example.com/-a@{DIGEST}",
        f"oci://-r.example.com/a@{DIGEST}",
        f"oci://r.example.com/a b@{DIGEST}",
    ],
)
def test_other_malformed_references_say_what_a_reference_is_made_of(uri: str) -> None:
    assert problem(uri).endswith(
        "is not a valid reference: the registry is a host name or address with an optional "
        "port, the repository lowercase path components (letters, digits, '.', '_', '-') "
        "joined by '/'"
    )
    with pytest.raises(OciReferenceError):
        parse(uri)


def test_a_repository_longer_than_registries_take_is_refused() -> None:
    longest = "a" * MAX_NAME
    assert parse(f"oci://r.example.com/{longest}@{DIGEST}").repository == longest
    with pytest.raises(
        OciReferenceError, match=r"is 256 characters long; registries take at most 255"
    ):
        parse(f"oci://r.example.com/{longest}a@{DIGEST}")


def test_the_api_pattern_is_the_parsers() -> None:
    """The CRD's CEL rule and the operator agree on what a reference is."""
    pattern = re.compile(OCI_DIGEST_URI_PATTERN)
    for good in (f"oci://r.example.com/m@{DIGEST}", f"oci://[::1]:5000/m/n@{DIGEST}"):
        assert pattern.match(good)
    for bad in (
        "oci://r.example.com/m:v1",
        f"oci://r.example.com/M@{DIGEST}",
        f"s3://b/k@{DIGEST}",
    ):
        assert not pattern.match(bad)
