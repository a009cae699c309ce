"""A Model that requires signatures and an oci:// version: refused with the reason it cannot be
signed yet, not told to add a signature the API server would refuse."""

from __future__ import annotations

import dataclasses

from modelregistry.api.modelversion import ModelVersionSpec
from modelregistry.decisions import lifecycle
from modelregistry.decisions.lifecycle import Policy
from modelregistry.reasons import Reason
from tests.unit.lifecyclebuilders import passing, version_view

REQUIRED = Policy(signing_required=True, trusted_keys=frozenset({"sha256:" + "1" * 64}))
URI = "oci://registry.example.com/models/fraud@sha256:" + "a" * 64


def test_an_oci_version_under_a_signing_policy_is_refused_saying_it_cannot_be_signed_yet() -> None:
    view = version_view("Production")
    spec = view.spec.model_dump(by_alias=True, exclude_none=True)
    spec["artifact"] = {"uri": URI}
    oci = dataclasses.replace(view, spec=ModelVersionSpec.model_validate(spec))

    assert lifecycle._signed("Production", oci, passing(REQUIRED)) == (
        Reason.SIGNATURE_REQUIRED,
        "Production needs a signed artifact (Model 'fraud', spec.policy.signing.required), and "
        "the operator does not check signatures of oci:// artifacts yet: register the signed "
        "files and their bundle at an s3:// URI, as a new ModelVersion (docs/signing.md).",
    )
    assert lifecycle._signed("Production", oci, passing(Policy())) is None
