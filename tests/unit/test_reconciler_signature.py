"""The signature step in the reconciler, on the in-memory API server: one read of the bytes."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelregistry import signingkeys
from modelregistry.api.modelversion import (
    ModelVersionSpec,
    ModelVersionStatus,
    VerifiedArtifact,
    VerifiedFile,
)
from modelregistry.client.signing import signed_bundle
from modelregistry.decisions.passdata import VersionView
from modelregistry.digest import FileDigest
from modelregistry.reconciler import Operator
from modelregistry.reconciler.signature import Signatures
from modelregistry.settings import Settings
from tests.unit.builders import condition, make_view
from tests.unit.memorycluster import HEX, FixedVerifier, MemoryCluster

NOW = datetime(2030, 1, 1, tzinfo=UTC)
URI = "s3://models/m.bin"
BUNDLE = URI + ".sig"
KEY = ec.generate_private_key(ec.SECP256R1())
FINGERPRINT = signingkeys.fingerprint(KEY.public_key())
PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
SIGNATURE = {"uri": BUNDLE, "publicKey": {"name": "keys", "key": "team.pub"}}


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


class World:
    def __init__(self) -> None:
        self.cluster = MemoryCluster()
        self.verifier = FixedVerifier()
        # What the FixedVerifier hashes every artifact to, signed as model-signing signs a file.
        self.verifier.bundles[BUNDLE] = signed_bundle(
            (FileDigest("m.bin", HEX, 3),), KEY, model_name="m.bin", single_object=True
        )
        settings = Settings.from_environment({"MODELREGISTRY_RETRY_BASE_DELAY": "30"})
        self.operator = Operator(
            self.cluster, self.verifier, self.cluster.catalog(), settings, clock=lambda: NOW
        )

    def keys(self, pem: bytes = PEM) -> None:
        self.cluster.objects[("configmaps", "keys")] = {
            "metadata": {"name": "keys", "namespace": self.cluster.namespace},
            "data": {"team.pub": pem.decode()},
        }

    def version(self, name: str = "fraud-a", **spec: Any) -> None:
        body = {"modelRef": {"name": "fraud"}, "artifact": {"uri": URI, "signature": SIGNATURE}}
        self.cluster.add("modelversions", name, {**body, **spec}, "2030-01-01T00:00:01Z")

    async def look_again(self, name: str = "fraud-a") -> None:
        """A retry's pass: the object is read again."""
        body = copy.deepcopy(self.cluster.objects[("modelversions", name)])
        await self.operator.versions.reconcile(body, fresh=False)


def test_a_signed_version_is_verified_on_the_read_that_hashed_it() -> None:
    async def scenario() -> None:
        w = World()
        w.keys()
        w.cluster.add("models", "fraud", {}, "2030-01-01T00:00:00Z")
        w.version()
        await w.cluster.settle(w.operator)

        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["SignatureVerified"] == ("True", "Signed")
        assert conditions(status)["Ready"] == ("True", "Succeeded")
        assert status["artifactSignature"]["keyFingerprint"] == FINGERPRINT
        assert status["artifactSignature"]["versionId"] == "bundle-v1"
        assert w.verifier.calls == 1  # the bytes: once
        assert w.verifier.bundle_reads == [BUNDLE]
        assert w.cluster.calls["patch modelversions/status"] == 1
        assert [e.reason for _, e in w.cluster.events] == ["Verified", "Signed"]
        await w.operator.close()

    run(scenario)


def test_a_key_that_appears_later_is_checked_without_reading_the_bytes_again() -> None:
    async def scenario() -> None:
        w = World()
        w.cluster.add("models", "fraud", {}, "2030-01-01T00:00:00Z")
        w.version()
        await w.cluster.settle(w.operator)
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["SignatureVerified"] == ("False", "KeyNotFound")
        assert conditions(status)["Reconciling"] == ("True", "KeyNotFound")
        assert conditions(status)["ArtifactVerified"] == ("True", "Verified")

        w.keys()
        await w.look_again()
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["SignatureVerified"] == ("True", "Signed")
        assert conditions(status)["Ready"] == ("True", "Succeeded")
        assert w.verifier.calls == 1  # the record's files served the check
        assert w.verifier.bundle_reads == [BUNDLE, BUNDLE]
        # Settled: a later pass reads neither the bundle nor the key.
        await w.look_again()
        assert w.verifier.bundle_reads == [BUNDLE, BUNDLE]
        await w.operator.close()

    run(scenario)


def test_the_model_s_policy_grants_a_stage_only_for_a_trusted_key() -> None:
    async def scenario() -> None:
        w = World()
        w.keys()
        other = "sha256:" + "0" * 64
        policy = {"policy": {"signing": {"required": True, "trustedKeys": [other]}}}
        w.cluster.add("models", "fraud", policy, "2030-01-01T00:00:00Z")
        w.version(stage="Staging")
        w.version("fraud-b", stage="Staging", artifact={"uri": "s3://models/unsigned.bin"})
        await w.cluster.settle(w.operator)

        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["StageGranted"] == ("False", "KeyNotTrusted")
        assert status["stage"] == "None"
        unsigned = w.cluster.status("modelversions", "fraud-b")
        assert conditions(unsigned)["StageGranted"] == ("False", "SignatureRequired")
        assert "SignatureVerified" not in conditions(unsigned)

        w.cluster.objects[("models", "fraud")]["spec"] = {
            "policy": {"signing": {"required": True, "trustedKeys": [other, FINGERPRINT]}}
        }
        w.cluster.reindex()
        await w.look_again()
        status = w.cluster.status("modelversions", "fraud-a")
        assert conditions(status)["StageGranted"] == ("True", "Granted")
        assert status["stage"] == "Staging"
        await w.operator.close()

    run(scenario)


def test_a_check_the_record_cannot_serve_asks_for_the_bytes() -> None:
    cluster, verifier = MemoryCluster(), FixedVerifier()
    signatures = Signatures(cluster, verifier)
    spec = {
        "modelRef": {"name": "fraud"},
        "artifact": {"uri": "s3://models/p/", "signature": SIGNATURE},
    }
    files = [VerifiedFile(path=f"f{i}", digest="sha256:" + HEX, size=1) for i in range(2)]
    listed_all = VerifiedArtifact(
        uri="s3://models/p/",
        digest="sha256:" + HEX,
        size=2,
        file_count=2,
        files=files,
        verified_at="t",
    )
    listed_some = listed_all.model_copy(update={"file_count": 1001})
    waiting = [condition("SignatureVerified", "False", "KeyNotFound")]
    settled = [condition("SignatureVerified", "False", "FilesDiffer")]

    def view(record: VerifiedArtifact, found: list[Any]) -> VersionView:
        return make_view(
            ModelVersionSpec.model_validate(spec),
            ModelVersionStatus(artifact=record, conditions=found),
        )

    assert signatures.needs_bytes(view(listed_some, waiting)) is True
    assert signatures.needs_bytes(view(listed_all, waiting)) is False
    assert signatures.needs_bytes(view(listed_some, settled)) is False
