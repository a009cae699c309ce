"""The Model's signing policy as a stage gate: required, verified, by a trusted key."""

from __future__ import annotations

import dataclasses

import pytest

from modelregistry.api.model import ModelPolicy
from modelregistry.api.modelversion import ModelVersionSpec
from modelregistry.decisions import lifecycle
from modelregistry.decisions.lifecycle import Observed, Policy
from modelregistry.decisions.passdata import VersionView
from modelregistry.reasons import STAGE_GRANTED, Reason
from tests.unit.lifecyclebuilders import passing, version_view

TRUSTED = "sha256:" + "1" * 64
UNTRUSTED = "sha256:" + "2" * 64
REQUIRED = Policy(signing_required=True, trusted_keys=frozenset({TRUSTED}))


def signed_view(asked: str = "Staging") -> VersionView:
    view = version_view(asked)  # type: ignore[arg-type]
    spec = view.spec.model_dump(by_alias=True, exclude_none=True)
    spec["artifact"]["signature"] = {
        "uri": "s3://models/fraud/v1/model.onnx.sig",
        "publicKey": {"name": "keys", "key": "team.pub"},
    }
    return dataclasses.replace(view, spec=ModelVersionSpec.model_validate(spec))


def signed(
    policy: Policy = REQUIRED, *, status: str = "True", key: str | None = TRUSTED
) -> Observed:
    return dataclasses.replace(passing(policy), signed=status, signing_key=key)


def test_the_policy_is_read() -> None:
    policy = ModelPolicy.model_validate(
        {"signing": {"required": True, "trustedKeys": [TRUSTED, UNTRUSTED]}}
    )
    assert Policy.of(policy).signing_required is True
    assert Policy.of(policy).trusted_keys == frozenset({TRUSTED, UNTRUSTED})
    pinned_only = ModelPolicy.model_validate({"signing": {"trustedKeys": [TRUSTED]}})
    assert Policy.of(pinned_only).signing_required is False
    assert Policy.of(ModelPolicy()).signing_required is False
    assert Policy.of(ModelPolicy()).trusted_keys == frozenset()
    assert Policy().signing_required is False


def test_without_the_policy_nothing_is_asked_of_a_signature() -> None:
    assert lifecycle._signed("Staging", version_view("Staging"), passing()) is None
    unsigned_required_off = Policy(trusted_keys=frozenset({TRUSTED}))
    assert (
        lifecycle._signed("Staging", signed_view(), signed(unsigned_required_off, key=None)) is None
    )


def test_a_version_without_a_signature_is_refused_saying_how_to_sign() -> None:
    assert lifecycle._signed("Production", version_view("Production"), passing(REQUIRED)) == (
        Reason.SIGNATURE_REQUIRED,
        "Production needs a signed artifact (Model 'fraud', spec.policy.signing.required), and "
        "this version declares no spec.artifact.signature: register the model again signed, as "
        "a new ModelVersion (modelregistry register --sign-key KEY --public-key CONFIGMAP/KEY, "
        "or model_signing sign key).",
    )


@pytest.mark.parametrize("status", ["False", "Unknown"])
def test_a_signature_that_did_not_verify_is_refused(status: str) -> None:
    assert lifecycle._signed("Staging", signed_view(), signed(status=status)) == (
        Reason.SIGNATURE_NOT_VERIFIED,
        "Staging needs a verified signature, and SignatureVerified is not True: see its message.",
    )


def test_a_signature_by_a_key_the_model_does_not_trust_is_refused_naming_it() -> None:
    assert lifecycle._signed("Staging", signed_view(), signed(key=UNTRUSTED)) == (
        Reason.KEY_NOT_TRUSTED,
        f"Staging needs a signature by a key Model 'fraud' trusts, and this version was signed "
        f"with {UNTRUSTED}, which its spec.policy.signing.trustedKeys does not list: sign with a "
        "trusted key and register a new version, or have the Model's owners add the key.",
    )


def test_a_signature_by_a_trusted_key_passes() -> None:
    assert lifecycle._signed("Staging", signed_view(), signed()) is None


def test_the_gate_comes_after_validation_and_before_approvals() -> None:
    names = [g.__name__ for g in lifecycle.GATES]
    assert names.index("_validated") + 1 == names.index("_signed")
    assert names.index("_signed") < names.index("_approved")
    # A stage held is judged by its bytes and checks only: the policy gates a new grant.
    assert "_signed" not in [g.__name__ for g in lifecycle.HOLDING]


def test_a_stage_is_not_granted_without_a_trusted_signature_and_is_with_one() -> None:
    view = signed_view()
    refused = lifecycle.decide(view, signed(key=UNTRUSTED))
    (condition,) = [c for c in refused.result.conditions if c.type == STAGE_GRANTED]
    assert (condition.status, condition.reason) == ("False", Reason.KEY_NOT_TRUSTED)
    assert refused.result.status.get("stage", "None") == "None"
    granted = lifecycle.decide(view, signed())
    (condition,) = [c for c in granted.result.conditions if c.type == STAGE_GRANTED]
    assert (condition.status, condition.reason) == ("True", Reason.GRANTED)
    assert granted.result.status["stage"] == "Staging"


def test_validation_is_said_before_the_signature() -> None:
    pending = dataclasses.replace(signed(key=UNTRUSTED), validated="Unknown")
    failure = lifecycle.first_failure("Staging", signed_view(), pending)
    assert failure is not None and failure[0] == Reason.VALIDATION_PENDING
