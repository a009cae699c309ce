"""The model-signing format: PAE, bundles, statements, and the comparison with hashed files.

Expected values are worked out by hand from the DSSE and in-toto specifications
(and, in test_modelsigning_interop.py, checked against model-signing itself).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from modelregistry.decisions import modelsigning as ms
from modelregistry.decisions.modelsigning import BundleError, Differences, Resource
from modelregistry.digest import FileDigest

HEX_A, HEX_B, HEX_C = "a" * 64, "b" * 64, "c" * 64


def files(*pairs: tuple[str, str]) -> list[FileDigest]:
    return [FileDigest(path, digest, 1) for path, digest in pairs]


def statement_payload(**changes: Any) -> dict[str, Any]:
    statement = ms.statement_for(
        files(("b.txt", HEX_B), ("a/x", HEX_A)), model_name="m", single_object=False
    )
    statement.update(changes)
    return statement


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def bundle_document(**changes: Any) -> dict[str, Any]:
    raw = ms.bundle_bytes(b"{}", b"sig", key_hint="ab")
    document: dict[str, Any] = json.loads(raw)
    document.update(changes)
    return document


# --- PAE ---------------------------------------------------------------------------------


def test_pae_is_the_dsse_v1_encoding() -> None:
    assert ms.pae("application/x", b"hello") == b"DSSEv1 13 application/x 5 hello"


def test_pae_counts_bytes_not_characters() -> None:
    payload = "é".encode()
    assert ms.pae("t\u00e9", payload) == b"DSSEv1 3 t\xc3\xa9 2 \xc3\xa9"


def test_pae_of_an_empty_payload() -> None:
    assert ms.pae(ms.PAYLOAD_TYPE, b"") == b"DSSEv1 28 application/vnd.in-toto+json 0 "


# --- statements --------------------------------------------------------------------------


def test_statement_lists_files_by_path_component_with_the_root_digest() -> None:
    statement = ms.statement_for(
        files(("a-b", HEX_A), ("a/b", HEX_B), ("a.bin", HEX_C)),
        model_name="churn",
        single_object=False,
        ignore_paths=["model.sig"],
    )
    # `a/b` before `a-b`: components compare ("a" < "a-b"), although "-" < "/" as text.
    names = [r["name"] for r in statement["predicate"]["resources"]]
    assert names == ["a/b", "a-b", "a.bin"]
    root = hashlib.sha256(bytes.fromhex(HEX_B + HEX_A + HEX_C)).hexdigest()
    assert statement == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "churn", "digest": {"sha256": root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": ["model.sig"],
            },
            "resources": [
                {"name": "a/b", "algorithm": "sha256", "digest": HEX_B},
                {"name": "a-b", "algorithm": "sha256", "digest": HEX_A},
                {"name": "a.bin", "algorithm": "sha256", "digest": HEX_C},
            ],
        },
    }


def test_a_single_object_is_signed_as_dot() -> None:
    statement = ms.statement_for(
        files(("models/m.onnx", HEX_A)), model_name="m.onnx", single_object=True
    )
    assert statement["predicate"]["resources"] == [
        {"name": ".", "algorithm": "sha256", "digest": HEX_A}
    ]
    assert "ignore_paths" not in statement["predicate"]["serialization"]


def test_a_single_object_is_one_file() -> None:
    with pytest.raises(ValueError, match="one file"):
        ms.statement_for(files(("a", HEX_A), ("b", HEX_B)), model_name="m", single_object=True)


def test_root_digest_follows_the_order_given() -> None:
    a, b = Resource("a", HEX_A), Resource("b", HEX_B)
    assert ms.root_digest([a, b]) == hashlib.sha256(bytes.fromhex(HEX_A + HEX_B)).hexdigest()
    assert ms.root_digest([b, a]) != ms.root_digest([a, b])


def test_a_statement_reads_back() -> None:
    payload = ms.payload_bytes(statement_payload())
    statement = ms.parse_statement(ms.PAYLOAD_TYPE, payload)
    assert statement == ms.Statement(
        model_name="m", resources=(Resource("a/x", HEX_A), Resource("b.txt", HEX_B))
    )


def test_ignore_paths_are_read() -> None:
    statement = ms.statement_for(
        files(("a", HEX_A)), model_name="m", single_object=False, ignore_paths=[".git", "m.sig"]
    )
    parsed = ms.parse_statement(ms.PAYLOAD_TYPE, encode(statement))
    assert parsed.ignore_paths == (".git", "m.sig")


def _with_resources(resources: list[dict[str, Any]], root: str | None = None) -> dict[str, Any]:
    statement = statement_payload()
    statement["predicate"]["resources"] = resources
    digest = root or HEX_C
    if root is None and all(len(r.get("digest", "")) == 64 for r in resources):
        digest = ms.root_digest(Resource(r.get("name", ""), r["digest"]) for r in resources)
    statement["subject"][0]["digest"]["sha256"] = digest
    return statement


def _resource(name: str, digest: str = HEX_A, algorithm: str = "sha256") -> dict[str, Any]:
    return {"name": name, "algorithm": algorithm, "digest": digest}


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (statement_payload(_type="https://in-toto.io/Statement/v0.1"), "not an in-toto"),
        (
            statement_payload(predicateType="https://model_signing/Digests/v0.1"),
            "before 1.0",
        ),
        (statement_payload(predicateType="https://slsa.dev/provenance/v1"), "predicateType"),
        (statement_payload(subject=[]), "0 subjects"),
        (
            statement_payload(subject=[{"name": "a", "digest": {}}, {"name": "b", "digest": {}}]),
            "2 subjects",
        ),
        (statement_payload(subject="x"), "subject is not a list"),
        (statement_payload(predicate=[]), "predicate is not a JSON object"),
        (_with_resources([_resource("a", "A" * 64)]), "no hex SHA-256"),
        (_with_resources([_resource("a", "a" * 62)]), "no hex SHA-256"),
        (_with_resources([_resource("a", algorithm="blake2b")]), "hashed with 'blake2b'"),
        (_with_resources([{"algorithm": "sha256", "digest": HEX_A}]), "has no name"),
        (_with_resources([_resource("../etc/passwd")]), "segment"),
        (_with_resources([_resource("/abs")]), "relative"),
        (_with_resources([_resource("a"), _resource("a", HEX_B)]), "more than once"),
        (_with_resources([_resource("."), _resource("b")]), "among other files"),
        (_with_resources([_resource("a")], root=HEX_C), "inconsistent"),
        (_with_resources([_resource("a")], root=None) | {"subject": [{"name": "m"}]}, "digest"),
    ],
)
def test_statements_that_are_refused(statement: dict[str, Any], problem: str) -> None:
    with pytest.raises(BundleError, match=problem):
        ms.parse_statement(ms.PAYLOAD_TYPE, encode(statement))


def test_shards_and_other_hashes_are_refused_saying_how_to_sign() -> None:
    sharded = statement_payload()
    sharded["predicate"]["serialization"]["method"] = "shards"
    with pytest.raises(BundleError, match="sign without sharding"):
        ms.parse_statement(ms.PAYLOAD_TYPE, encode(sharded))
    blake = statement_payload()
    blake["predicate"]["serialization"]["hash_type"] = "blake3"
    with pytest.raises(BundleError, match="sign with sha256"):
        ms.parse_statement(ms.PAYLOAD_TYPE, encode(blake))


def test_a_payload_of_another_type_or_not_json_is_refused() -> None:
    payload = encode(statement_payload())
    with pytest.raises(BundleError, match="payloadType"):
        ms.parse_statement("application/json", payload)
    with pytest.raises(BundleError, match="not JSON"):
        ms.parse_statement(ms.PAYLOAD_TYPE, b"\xff{")
    with pytest.raises(BundleError, match="not a JSON object"):
        ms.parse_statement(ms.PAYLOAD_TYPE, b"[]")


def test_ignore_paths_must_be_a_list() -> None:
    statement = statement_payload()
    statement["predicate"]["serialization"]["ignore_paths"] = "model.sig"
    with pytest.raises(BundleError, match="ignore_paths is not a list"):
        ms.parse_statement(ms.PAYLOAD_TYPE, encode(statement))


def test_a_subject_without_a_name_reads_as_nameless() -> None:
    statement = statement_payload()
    del statement["subject"][0]["name"]
    assert ms.parse_statement(ms.PAYLOAD_TYPE, encode(statement)).model_name == ""


# --- bundles -----------------------------------------------------------------------------


def test_a_key_bundle_round_trips() -> None:
    raw = ms.bundle_bytes(b'{"a": 1}', b"\x01\x02", key_hint="cafe")
    document = json.loads(raw)
    assert document == {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "cafe"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(b'{"a": 1}').decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": "AQI=", "keyid": ""}],
        },
    }
    assert ms.parse_bundle(raw) == ms.Bundle(
        payload_type=ms.PAYLOAD_TYPE, payload=b'{"a": 1}', signature=b"\x01\x02", key_hint="cafe"
    )


def test_a_certificate_bundle_round_trips() -> None:
    raw = ms.bundle_bytes(b"p", b"s", certificates=[b"leaf", b"ca"])
    material = json.loads(raw)["verificationMaterial"]
    assert material == {
        "x509CertificateChain": {"certificates": [{"rawBytes": "bGVhZg=="}, {"rawBytes": "Y2E="}]},
        "tlogEntries": [],
    }
    parsed = ms.parse_bundle(raw)
    assert parsed.certificates == (b"leaf", b"ca")
    assert parsed.key_hint is None


def test_a_key_bundle_without_a_hint_is_read() -> None:
    document = bundle_document(verificationMaterial={"publicKey": {}})
    assert ms.parse_bundle(encode(document)).key_hint is None
    document = bundle_document(verificationMaterial={"publicKey": {"hint": ""}})
    assert ms.parse_bundle(encode(document)).key_hint is None


def _envelope(**changes: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = bundle_document()["dsseEnvelope"]
    envelope.update(changes)
    return envelope


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "not a JSON object"),
        (bundle_document(mediaType="application/vnd.dev.sigstore.bundle+json;version=0.2"), "0.2"),
        ({k: v for k, v in bundle_document().items() if k != "dsseEnvelope"}, "no dsseEnvelope"),
        (bundle_document(dsseEnvelope=_envelope(signatures=[])), "0 signatures"),
        (
            bundle_document(dsseEnvelope=_envelope(signatures=[{"sig": "AA=="}] * 2)),
            "2 signatures",
        ),
        (bundle_document(dsseEnvelope=_envelope(signatures=None)), "signatures is not a list"),
        (bundle_document(dsseEnvelope=_envelope(payload="%%%")), "payload is not base64"),
        (bundle_document(dsseEnvelope=_envelope(payload=None)), "payload is missing"),
        (bundle_document(dsseEnvelope=_envelope(payloadType=None)), "payloadType is missing"),
        (bundle_document(dsseEnvelope=_envelope(signatures=[{"sig": 1}])), "sig is missing"),
        (bundle_document(verificationMaterial={"certificate": {"rawBytes": "AA=="}}), "keyless"),
        (bundle_document(verificationMaterial={}), "neither a publicKey nor a certificate"),
        (bundle_document(verificationMaterial=None), "verificationMaterial is not"),
        (bundle_document(verificationMaterial={"publicKey": {"hint": 5}}), "hint is not a"),
        (
            bundle_document(verificationMaterial={"x509CertificateChain": {"certificates": []}}),
            "holds no certificate",
        ),
        (
            bundle_document(
                verificationMaterial={"x509CertificateChain": {"certificates": [{"rawBytes": 1}]}}
            ),
            "rawBytes is missing",
        ),
    ],
)
def test_bundles_that_are_refused(document: Any, problem: str) -> None:
    with pytest.raises(BundleError, match=problem):
        ms.parse_bundle(encode(document))


def test_a_bundle_that_is_not_json_or_too_large_is_refused() -> None:
    with pytest.raises(BundleError, match="not JSON"):
        ms.parse_bundle(b"not json")
    with pytest.raises(BundleError, match="more than a bundle"):
        ms.parse_bundle(b" " * (ms.MAX_BUNDLE_BYTES + 1))
    # The limit itself is still read.
    with pytest.raises(BundleError, match="not JSON"):
        ms.parse_bundle(b" " * ms.MAX_BUNDLE_BYTES)


# --- comparing with the files hashed -------------------------------------------------------


def signed(*pairs: tuple[str, str]) -> ms.Statement:
    return ms.Statement("m", tuple(Resource(n, d) for n, d in pairs))


def test_the_same_files_with_the_same_digests_match() -> None:
    there = files(("a/x", HEX_A), ("b", HEX_B))
    assert not ms.compare(signed(("b", HEX_B), ("a/x", HEX_A)), there)


def test_files_added_removed_or_changed_are_named() -> None:
    there = files(("a", HEX_A), ("b", HEX_C), ("new", HEX_A))
    differences = ms.compare(signed(("a", HEX_A), ("b", HEX_B), ("gone", HEX_A)), there)
    assert differences == Differences(unsigned=("new",), missing=("gone",), changed=("b",))
    assert differences.describe() == (
        "not signed: new; signed but missing: gone; changed since signing: b"
    )


def test_the_bundle_inside_the_prefix_is_the_one_file_not_signed() -> None:
    there = files(("a", HEX_A), ("model.sig", HEX_B))
    assert not ms.compare(signed(("a", HEX_A)), there, exempt="model.sig")
    assert ms.compare(signed(("a", HEX_A)), there, exempt="other.sig") == Differences(
        unsigned=("model.sig",)
    )
    # Exempt from being there, not from being signed: a statement listing it must find it.
    assert ms.compare(signed(("a", HEX_A), ("model.sig", HEX_B)), there, exempt="model.sig") == (
        Differences(missing=("model.sig",))
    )


def test_a_single_object_matches_dot_or_its_own_name() -> None:
    there = files(("models/m.onnx", HEX_A))
    assert not ms.compare(signed((".", HEX_A)), there, single_object="m.onnx")
    assert not ms.compare(signed(("m.onnx", HEX_A)), there, single_object="m.onnx")
    assert ms.compare(signed((".", HEX_B)), there, single_object="m.onnx") == Differences(
        changed=("m.onnx",)
    )
    assert ms.compare(signed(("other.onnx", HEX_A)), there, single_object="m.onnx") == (
        Differences(unsigned=("m.onnx",), missing=("other.onnx",))
    )


def test_a_single_object_against_a_directory_signature() -> None:
    there = files(("m.onnx", HEX_A))
    differences = ms.compare(signed(("m.onnx", HEX_A), ("x", HEX_B)), there, single_object="m.onnx")
    assert differences == Differences(missing=("x",))


def test_messages_name_ten_files_of_each_kind_and_count_the_rest() -> None:
    names = tuple(f"f{i:02}" for i in range(12))
    text = Differences(unsigned=names).describe()
    assert text == "not signed: " + ", ".join(names[:10]) + " and 2 more"
    assert Differences(missing=names[:10]).describe() == "signed but missing: " + ", ".join(
        names[:10]
    )


def test_names_are_listed_in_path_order() -> None:
    there = files(("a-b", HEX_A), ("a/b", HEX_A), ("a.c", HEX_A))
    assert ms.compare(signed(), there).unsigned == ("a/b", "a-b", "a.c")
