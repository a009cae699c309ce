"""The store's full-object SHA-256 checksum as a first verification: the pure rules."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any

import pytest

from modelregistry.api.modelversion import Artifact, VerifiedComponent
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import verification
from modelregistry.decisions.verification import (
    STORE_CHECKSUM,
    hash_owed,
    next_check,
    store_checksum_accepted,
    store_checksum_stands_for,
    verified_record,
)
from modelregistry.digest import (
    FileDigest,
    prefix_artifact,
    sha256_from_store_checksum,
    single_object,
)
from modelregistry.reasons import ARTIFACT_VERIFIED, Reason
from modelregistry.reconciler.index import model_entry, version_entry
from modelregistry.upload import checksum_header

from .builders import (
    DIGEST_A,
    DIGEST_B,
    ENCODER_URI,
    HEX_A,
    HOUR,
    NOW,
    NOW_TEXT,
    URI,
    hashed,
    make_spec,
    make_view,
    record,
    status_with,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
EMPTY_CHECKSUM = base64.b64encode(hashlib.sha256(b"").digest()).decode()


def by_checksum(hexdigest: str = HEX_A, size: int = 42) -> FileDigest:
    return FileDigest(
        path="model.onnx", hexdigest=hexdigest, size=size, version_id="v1", by_store_checksum=True
    )


# --- reading S3's ChecksumSHA256 --------------------------------------------------------


@pytest.mark.parametrize("checksum_type", ["FULL_OBJECT", None])
def test_a_full_object_checksum_is_the_objects_sha256(checksum_type: str | None) -> None:
    assert sha256_from_store_checksum(EMPTY_CHECKSUM, checksum_type) == EMPTY_SHA256


@pytest.mark.parametrize(
    ("checksum", "checksum_type"),
    [
        (EMPTY_CHECKSUM, "COMPOSITE"),  # a multipart upload's checksum of checksums
        (EMPTY_CHECKSUM + "-3", None),  # the same, from a store that sends no type
        (EMPTY_CHECKSUM + "-3", "FULL_OBJECT"),
        ("ANvwJg==", "FULL_OBJECT"),  # four bytes: a CRC32, not a SHA-256
        ("not base64!", "FULL_OBJECT"),
        ("", "FULL_OBJECT"),
        (None, "FULL_OBJECT"),
        (42, "FULL_OBJECT"),
        (EMPTY_CHECKSUM, "full_object"),
    ],
)
def test_anything_else_is_no_sha256_of_the_object(checksum: object, checksum_type: object) -> None:
    assert sha256_from_store_checksum(checksum, checksum_type) is None


def test_upload_sends_the_base64_of_the_raw_sha256() -> None:
    file = FileDigest(path="m.bin", hexdigest=EMPTY_SHA256, size=0)
    assert checksum_header(file) == EMPTY_CHECKSUM
    assert sha256_from_store_checksum(checksum_header(file), "FULL_OBJECT") == EMPTY_SHA256


def test_an_artifact_rests_on_checksums_when_any_of_its_files_does() -> None:
    hashed_file = FileDigest(path="a", hexdigest=HEX_A, size=1)
    assert single_object(by_checksum()).by_store_checksum is True
    assert single_object(hashed_file).by_store_checksum is False
    mixed = prefix_artifact([hashed_file, dataclasses.replace(by_checksum(), path="b")])
    assert mixed.by_store_checksum is True
    assert prefix_artifact([hashed_file]).by_store_checksum is False


# --- when the checksum may stand for the bytes -----------------------------------------


def test_a_first_verification_under_an_opted_in_model_may_use_the_checksum() -> None:
    declared = Artifact(uri=URI, digest=DIGEST_A)
    assert store_checksum_stands_for(declared, None, True) == DIGEST_A
    # A record of another URI (an older spec) is no pin for this one.
    assert store_checksum_stands_for(declared, record(uri=ENCODER_URI), True) == DIGEST_A


def test_the_checksum_is_not_asked_without_the_policy() -> None:
    assert store_checksum_stands_for(Artifact(uri=URI, digest=DIGEST_A), None, False) is None


def test_the_checksum_never_decides_what_an_undeclared_digest_pins() -> None:
    assert store_checksum_stands_for(Artifact(uri=URI), None, True) is None


def test_once_pinned_the_bytes_are_always_hashed() -> None:
    declared = Artifact(uri=URI, digest=DIGEST_A)
    assert store_checksum_stands_for(declared, record(), True) is None


def test_a_checksum_only_ever_accepts_the_digest_it_equals() -> None:
    assert store_checksum_accepted(DIGEST_A, single_object(by_checksum())) is True
    assert store_checksum_accepted(DIGEST_B, single_object(by_checksum())) is False
    assert store_checksum_accepted(DIGEST_A, None) is False


# --- what is recorded, and when the bytes are hashed after all ---------------------------


def test_the_record_says_it_rests_on_the_checksum() -> None:
    kept = verified_record(URI, single_object(by_checksum()), NOW)
    assert kept.verified_by == STORE_CHECKSUM == "StoreChecksum"
    assert kept.digest == DIGEST_A
    assert kept.verified_at == NOW_TEXT
    hashed_file = dataclasses.replace(by_checksum(), by_store_checksum=False)
    assert verified_record(URI, single_object(hashed_file), NOW).verified_by is None


def test_a_record_resting_on_a_checksum_is_due_for_hashing_at_once() -> None:
    owed = record().model_copy(update={"verified_by": STORE_CHECKSUM})
    status = status_with(artifact=owed, checked_at=NOW_TEXT)
    assert hash_owed(status) is True
    assert next_check(status, HOUR) is None


def test_a_component_resting_on_a_checksum_makes_the_hash_owed() -> None:
    owed = record(uri=ENCODER_URI).model_copy(update={"verified_by": STORE_CHECKSUM})
    status = status_with(
        artifact=record(),
        components=[VerifiedComponent(name="encoder", artifact=owed)],
        checked_at=NOW_TEXT,
    )
    assert hash_owed(status) is True
    assert next_check(status, HOUR) is None


def test_hashed_records_wait_for_their_interval() -> None:
    status = status_with(artifact=record(), checked_at=NOW_TEXT)
    assert hash_owed(status) is False
    assert next_check(status, HOUR) == NOW + HOUR


def test_the_condition_names_what_rests_on_checksums() -> None:
    spec = make_spec(components=[("encoder", ENCODER_URI, DIGEST_A)])
    hashed_file = FileDigest(path="encoder.onnx", hexdigest=HEX_A, size=7, version_id="e1")

    decided = verification.decide(
        make_view(spec), hashed(single_object(by_checksum()), single_object(hashed_file))
    )

    assert decided.result.conditions == (
        DesiredCondition(
            ARTIFACT_VERIFIED,
            "True",
            Reason.CHECKSUM_ACCEPTED,
            f"{URI} is {DIGEST_A} (42 bytes, versionId v1). All 1 components match their "
            f"digests too. By the store's SHA-256 checksum, not yet hashed here: {URI}; the "
            "operator hashes the bytes on its next periodic pass.",
        ),
    )
    assert decided.result.status["artifact"].verified_by == STORE_CHECKSUM
    assert decided.result.status["components"][0].artifact.verified_by is None


def test_a_component_alone_on_its_checksum_is_named() -> None:
    spec = make_spec(components=[("encoder", ENCODER_URI, DIGEST_A)])
    hashed_file = FileDigest(path="model.onnx", hexdigest=HEX_A, size=42, version_id="v1")

    decided = verification.decide(
        make_view(spec), hashed(single_object(hashed_file), single_object(by_checksum()))
    )

    (condition,) = decided.result.conditions
    assert condition.reason == Reason.CHECKSUM_ACCEPTED
    assert condition.message.endswith(
        f"not yet hashed here: {ENCODER_URI}; the operator hashes the bytes on its next "
        "periodic pass."
    )


# --- the index ----------------------------------------------------------------------------


def _version_body(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "team-a", "name": "v", "uid": "u", "generation": 2},
        "spec": {"modelRef": {"name": "fraud"}},
        "status": {"observedGeneration": 2, "artifactCheckedAt": NOW_TEXT, **status},
    }


@pytest.mark.parametrize(
    ("status", "owed"),
    [
        ({"artifact": {"verifiedBy": "StoreChecksum"}}, True),
        ({"components": [{"artifact": {"verifiedBy": "StoreChecksum"}}]}, True),
        ({"components": ["not an object", {"artifact": {}}], "artifact": {}}, False),
        ({"artifact": {"verifiedBy": "Someone"}}, False),
        ({}, False),
    ],
)
def test_the_index_knows_which_versions_owe_a_hash(status: dict[str, Any], owed: bool) -> None:
    entry = version_entry(_version_body(status))
    assert entry is not None
    assert entry.hash_owed is owed


def test_a_version_owing_a_hash_is_due_on_every_periodic_pass() -> None:
    ready = {
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": NOW_TEXT}],
    }
    owing = version_entry(_version_body({**ready, "artifact": {"verifiedBy": "StoreChecksum"}}))
    settled = version_entry(_version_body(ready))
    assert owing is not None and settled is not None
    assert owing.due(NOW, HOUR) is True
    assert settled.due(NOW, HOUR) is False


@pytest.mark.parametrize(
    ("policy", "accepts"),
    [
        ({"verification": {"acceptStoreChecksum": True}}, True),
        ({"verification": {"acceptStoreChecksum": False}}, False),
        ({"verification": {"acceptStoreChecksum": "true"}}, False),
        ({"verification": {}}, False),
        ({}, False),
        (None, False),
    ],
)
def test_the_model_entry_reads_the_opt_in(policy: object, accepts: bool) -> None:
    body: dict[str, Any] = {
        "metadata": {"namespace": "team-a", "name": "fraud", "uid": "m"},
        "spec": {},
    }
    if policy is not None:
        body["spec"] = {"policy": policy}
    assert model_entry(body).accept_store_checksum is accepts
