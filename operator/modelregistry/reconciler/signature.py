"""Gather what the signature step needs: the bundle from the store, the identity from a ConfigMap.

The files come from verification, as it hashed them on this pass (or as
its record lists them): nothing here reads an artifact's bytes. The bundle
is read with the artifact's own endpoint and credentials; the public key or
trust root from a ConfigMap in the version's namespace, never a Secret (a
public key is not secret, so the operator needs no wider read for it).
"""

from __future__ import annotations

import base64
import binascii

from modelregistry.api.modelversion import VerifiedArtifact
from modelregistry.api.signing import ArtifactSignature
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import signature
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.decisions.signature import FIELD, Fetched, Observed, Trust, Unavailable
from modelregistry.digest import FileDigest
from modelregistry.errors import ClusterError, CredentialsError
from modelregistry.reasons import SIGNATURE_VERIFIED, Reason
from modelregistry.reconciler.ports import ClusterPort, VerifierPort
from modelregistry.reconciler.reading import mapping
from modelregistry.verifier import failure_from_error


class Signatures:
    """Checks a version's signature against the files verification hashed."""

    def __init__(self, cluster: ClusterPort, verifier: VerifierPort) -> None:
        self._cluster = cluster
        self._verifier = verifier

    def needs_bytes(self, view: VersionView) -> bool:
        """Whether a check is due that the verified record alone cannot serve (too many files)."""
        record = view.status.artifact
        return (
            signature.needs_check(view, hashed=False)
            and record is not None
            and signature.files_of(record) is None
        )

    async def check(
        self,
        view: VersionView,
        record: VerifiedArtifact,
        hashed: tuple[FileDigest, ...] | None,
    ) -> StepResult:
        """The step: checked when due, on `hashed` (this pass's read) or the record's files."""
        declared = view.spec.artifact.signature
        assert declared is not None
        if not signature.needs_check(view, hashed=hashed is not None):
            return signature.kept(view)
        files = hashed if hashed is not None else signature.files_of(record)
        if files is None:  # the reconciler hashes first when the record lists too few files
            return StepResult(
                (
                    DesiredCondition(
                        SIGNATURE_VERIFIED,
                        "Unknown",
                        Reason.SIGNATURE_PENDING,
                        "The signature is checked when the artifact is hashed next.",
                    ),
                ),
                proceed=False,
                retry=True,
            )
        bundle = await self._bundle(view)
        trust = await self._trust(view.namespace, declared)
        return signature.decide(view, Observed(bundle, trust, record, files))

    async def _bundle(self, view: VersionView) -> Fetched | Unavailable:
        artifact = view.spec.artifact
        credentials = None
        secret = artifact.storage.secret_ref if artifact.storage else None
        if secret is not None:
            try:
                credentials = await self._cluster.read_credentials(
                    view.namespace, secret.name, "spec.artifact.storage.secretRef.name"
                )
            except CredentialsError as error:
                failure = failure_from_error(error, artifact, self._verifier.endpoint_for(artifact))
                return Unavailable(Reason.SIGNATURE_UNREADABLE, failure.message)
        return await self._verifier.read_signature(artifact, credentials)

    async def _trust(self, namespace: str, declared: ArtifactSignature) -> Trust | Unavailable:
        """The PEM text the signature names, from its ConfigMap entry."""
        if declared.public_key is not None:
            selector, field = declared.public_key, f"{FIELD}.publicKey"
        else:
            assert declared.certificate is not None
            selector, field = declared.certificate.trust_root, f"{FIELD}.certificate.trustRoot"
        where = f"ConfigMap {selector.name!r} in namespace {namespace!r} ({field}.name)"
        try:
            config_map = await self._cluster.get_namespaced(
                "v1", "configmaps", namespace, selector.name
            )
        except ClusterError as error:
            return Unavailable(
                Reason.KEY_NOT_FOUND,
                f"The operator could not read {where}: {error}. Grant it get on configmaps in "
                "the namespace (the chart's ClusterRole does); it looks again.",
            )
        if config_map is None:
            return Unavailable(
                Reason.KEY_NOT_FOUND,
                f"{where} does not exist: create it with the PEM text under key "
                f"{selector.key!r} (kubectl create configmap {selector.name} "
                f"--from-file={selector.key}=FILE); the operator looks again.",
            )
        text = _entry(config_map, selector.key)
        if text is None:
            return Unavailable(
                Reason.KEY_NOT_FOUND,
                f"{where} has no key {selector.key!r} ({field}.key): add the PEM text under "
                "that key; the operator looks again.",
            )
        return Trust(text, f"ConfigMap {selector.name!r} key {selector.key!r}")


def _entry(config_map: dict[str, object], key: str) -> bytes | None:
    """A ConfigMap entry's bytes: from data (text), else binaryData (base64)."""
    text = mapping(config_map.get("data")).get(key)
    if isinstance(text, str):
        return text.encode()
    encoded = mapping(config_map.get("binaryData")).get(key)
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None
