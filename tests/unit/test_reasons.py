"""The registry of condition types and reasons, and the table in docs/operator.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelregistry import reasons
from modelregistry.reasons import CONDITION_TYPES, REASONS, Reason, announced, is_transient

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operator.md"
POLARITY = {"normal": "True is good", "abnormal": "present only while True"}

TRANSIENT = {
    Reason.MODEL_NOT_FOUND,
    Reason.ARTIFACT_NOT_FOUND,
    Reason.STORAGE_UNREACHABLE,
    Reason.CREDENTIALS_NOT_FOUND,
    Reason.STORAGE_ERROR,
    Reason.UNSCHEDULABLE,
    # A stage waits for what may come by itself: verification, checks, the Production
    # holder's handover, the admission policy's installation.
    Reason.NOT_VERIFIED,
    Reason.VALIDATION_PENDING,
    Reason.PRODUCTION_HELD,
    Reason.ADMISSION_POLICY_MISSING,
    # Looked at again when the Production holder changes.
    Reason.CHAMPION_NOT_BEATEN,
    # A signature bundle or its key not there yet, or not readable now.
    Reason.SIGNATURE_MISSING,
    Reason.SIGNATURE_UNREADABLE,
    Reason.KEY_NOT_FOUND,
    Reason.KEY_INVALID,
    # A stage waits for the signature's verification.
    Reason.SIGNATURE_NOT_VERIFIED,
}


def test_condition_types_in_order() -> None:
    assert [(t.name, t.polarity) for t in CONDITION_TYPES] == [
        (reasons.READY, "normal"),
        (reasons.RECONCILING, "abnormal"),
        (reasons.STALLED, "abnormal"),
        (reasons.MODEL_FOUND, "normal"),
        (reasons.VERSION_ASSIGNED, "normal"),
        (reasons.ARTIFACT_VERIFIED, "normal"),
        (reasons.SIGNATURE_VERIFIED, "normal"),
        (reasons.VALIDATED, "normal"),
        (reasons.METADATA_COMPLETE, "normal"),
        (reasons.STAGE_GRANTED, "normal"),
        (reasons.ALIASES_RESOLVED, "normal"),
    ]
    assert (reasons.READY, reasons.RECONCILING, reasons.STALLED) == (
        "Ready",
        "Reconciling",
        "Stalled",
    )
    assert (reasons.MODEL_FOUND, reasons.VERSION_ASSIGNED, reasons.ARTIFACT_VERIFIED) == (
        "ModelFound",
        "VersionAssigned",
        "ArtifactVerified",
    )
    assert (reasons.VALIDATED, reasons.STAGE_GRANTED, reasons.ALIASES_RESOLVED) == (
        "Validated",
        "StageGranted",
        "AliasesResolved",
    )
    assert reasons.METADATA_COMPLETE == "MetadataComplete"
    assert reasons.SIGNATURE_VERIFIED == "SignatureVerified"


def test_every_reason_name_is_registered_under_its_own_name() -> None:
    declared = {
        value for key, value in vars(Reason).items() if key.isupper() and isinstance(value, str)
    }

    assert declared == set(REASONS)
    assert all(name == info.name for name, info in REASONS.items())
    assert all(re.fullmatch(r"(?:[A-Z][a-z]+)+", name) for name in REASONS)


@pytest.mark.parametrize("info", REASONS.values(), ids=list(REASONS))
def test_every_reason_is_owned_by_a_known_condition(info: reasons.ReasonInfo) -> None:
    assert info.condition in {t.name for t in CONDITION_TYPES}
    assert info.doc


@pytest.mark.parametrize("info", REASONS.values(), ids=list(REASONS))
def test_transient_only_on_false_and_announce_only_on_true(info: reasons.ReasonInfo) -> None:
    if info.transient:
        assert info.status == "False"
    if info.announce:
        assert info.status == "True"


@pytest.mark.parametrize("name", sorted(REASONS))
def test_is_transient_reads_the_registry(name: str) -> None:
    assert is_transient(name) is (name in TRANSIENT)
    assert is_transient(name) is REASONS[name].transient


@pytest.mark.parametrize("name", sorted(REASONS))
def test_only_verified_checksum_accepted_signed_and_checks_passed_are_announced(
    name: str,
) -> None:
    assert announced(name) is (
        name in (Reason.VERIFIED, Reason.CHECKSUM_ACCEPTED, Reason.SIGNED, Reason.CHECKS_PASSED)
    )


@pytest.mark.parametrize(
    ("name", "value", "doc"),
    [
        (
            "UNTRUSTED_POD",
            "UntrustedPod",
            "the run's Pod was, twice, not the one the operator created (another uid, owner or "
            "spec): nothing it reported counts; re-run, and find who changes Pods in the "
            "namespace",
        ),
        (
            "POD_ALTERED",
            "PodAltered",
            "admission changed the validation Pod the operator built (a mutating webhook "
            "injected credentials, a sidecar or another image); the Pod was deleted unread",
        ),
    ],
)
def test_a_pod_that_is_not_the_operator_s_own_fails_validation_for_good(
    name: str, value: str, doc: str
) -> None:
    info = REASONS[getattr(Reason, name)]

    assert info == reasons.ReasonInfo(value, reasons.VALIDATED, "False", doc)
    assert (info.transient, info.announce) == (False, False)


def test_no_checks_says_that_none_are_declared_and_none_required() -> None:
    assert REASONS[Reason.NO_CHECKS].doc == (
        "no checks apply: none declared (spec.validation, or the Model's spec.defaultValidation) "
        "and none required (the Model's spec.policy.validation.requiredChecks)"
    )


@pytest.mark.parametrize("name", ["", "NoSuchReason", "verified", "Ready"])
def test_unknown_reasons_are_neither_transient_nor_announced(name: str) -> None:
    assert is_transient(name) is False
    assert announced(name) is False


# --- the tables in docs/operator.md -----------------------------------------------------


# The mutation-score tool runs the unit tests on a copy without docs/.
needs_docs = pytest.mark.skipif(not DOCS.exists(), reason="docs/operator.md is not in this copy")


def table(header: str) -> list[list[str]]:
    """The rows of the markdown table that starts with `header`, cells stripped."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index(header)
    rows: list[list[str]] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def unquote(cell: str) -> str:
    return cell.removeprefix("`").removesuffix("`")


@needs_docs
def test_the_docs_list_exactly_the_condition_types() -> None:
    documented = [
        (unquote(name), polarity, meaning)
        for name, polarity, meaning in table("| type | polarity | meaning |")
    ]

    assert documented == [(t.name, POLARITY[t.polarity], t.doc) for t in CONDITION_TYPES]


@needs_docs
def test_the_docs_list_exactly_the_reasons() -> None:
    rows = table("| reason | on | status | transient | what happened, what to do |")
    documented = {
        unquote(name): (on, status, transient, doc) for name, on, status, transient, doc in rows
    }

    registry = {
        info.name: (
            info.condition,
            info.status,
            ("yes" if info.transient else "no") if info.status == "False" else "—",
            info.doc,
        )
        for info in REASONS.values()
    }
    assert len(rows) == len(documented)  # no reason listed twice
    assert set(documented) - set(registry) == set(), "documented but not in reasons.py"
    assert set(registry) - set(documented) == set(), "in reasons.py but not documented"
    assert documented == registry
    assert list(documented) == list(registry)  # in the registry's order
