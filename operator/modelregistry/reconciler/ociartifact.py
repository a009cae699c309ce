"""Verify an oci:// artifact: its reference, the registry Secret, then the bytes.

The reference is parsed again here (the API server's CEL rules already
refused a tag): one the operator cannot read fails in words, not a crash.
The registry's credentials come from the Secret `registry.secretRef` names,
a kubernetes.io/basic-auth or a kubernetes.io/dockerconfigjson one; a Secret
missing, unusable or that the operator may not read ends in
CredentialsNotFound, naming it and the fix.
"""

from __future__ import annotations

from typing import Protocol

from modelregistry.api.modelversion import Artifact
from modelregistry.decisions.oci import auth
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.reference import OciReference, OciReferenceError, parse
from modelregistry.decisions.verification import Outcome, VerificationFailure
from modelregistry.errors import ClusterError, CredentialsError
from modelregistry.reasons import Reason
from modelregistry.reconciler.ports import ClusterPort
from modelregistry.storage import ReadProgress


class OciVerifierPort(Protocol):
    async def verify(
        self,
        reference: OciReference,
        artifact: Artifact,
        credentials: RegistryCredentials | None,
        field: str,
        progress: ReadProgress | None = None,
    ) -> Outcome: ...


async def verify_oci(
    cluster: ClusterPort,
    verifier: OciVerifierPort,
    namespace: str,
    artifact: Artifact,
    field: str,
    progress: ReadProgress | None = None,
) -> Outcome:
    """The outcome of verifying the oci:// artifact `field` declares."""
    try:
        reference = parse(artifact.uri, f"{field}.uri")
    except OciReferenceError as error:
        return VerificationFailure(
            Reason.INVALID_ARTIFACT, f"{error}. Create a new ModelVersion with such a URI."
        )
    secret = artifact.registry.secret_ref if artifact.registry else None
    credentials = None
    if secret is not None:
        try:
            credentials = await registry_credentials(
                cluster, namespace, secret.name, reference.registry, field
            )
        except CredentialsError as error:
            return VerificationFailure(error.reason, str(error))
    return await verifier.verify(reference, artifact, credentials, field, progress)


async def registry_credentials(
    cluster: ClusterPort, namespace: str, name: str, registry: str, field: str
) -> RegistryCredentials:
    """The credentials for `registry` in Secret `name`; CredentialsError says what is wrong."""
    where = f"Secret {name!r} ({field}.registry.secretRef.name)"
    try:
        body = await cluster.get_namespaced("v1", "secrets", namespace, name)
    except ClusterError as error:
        if error.status != 403:
            raise  # the API server failing: tried again, as any read
        # RBAC: a fix for whoever installs the operator, as for an S3 Secret (cluster.py).
        raise CredentialsError(
            f"The operator may not read {where} in namespace {namespace!r}: grant it get on "
            "secrets there."
        ) from None
    if body is None:
        raise CredentialsError(
            f"{where} does not exist in namespace {namespace!r}. Create it: `kubectl create "
            f"secret docker-registry {name} --docker-server={registry} --docker-username=... "
            "--docker-password=...`, or a kubernetes.io/basic-auth Secret with username and "
            "password."
        )
    return auth.credentials_from(auth.secret_data(body, where), registry, where)
