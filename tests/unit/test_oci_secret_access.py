"""The registry Secret the operator may not read: CredentialsNotFound naming the Secret, its
namespace and the missing rule; any other failure of the API server is tried again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from modelregistry.api.modelversion import Artifact
from modelregistry.api.oci import RegistrySettings
from modelregistry.decisions.oci.auth import RegistryCredentials
from modelregistry.decisions.oci.reference import OciReference
from modelregistry.decisions.verification import Outcome, VerificationFailure
from modelregistry.errors import ClusterError
from modelregistry.reasons import Reason
from modelregistry.reconciler.ociartifact import verify_oci
from modelregistry.storage import ReadProgress

URI = "oci://registry.example.com:5000/models/churn@sha256:" + "a" * 64


class Refusing:
    """The cluster as verify_oci reads it, answering every read of a Secret with `status`."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.read: list[tuple[str, str, str, str]] = []

    async def get_namespaced(self, api: str, plural: str, namespace: str, name: str) -> Any:
        self.read.append((api, plural, namespace, name))
        raise ClusterError(
            f"reading {plural}/{name}: the API server answered {self.status}", self.status
        )


class Registry:
    def __init__(self) -> None:
        self.asked: list[OciReference] = []

    async def verify(
        self,
        reference: OciReference,
        artifact: Artifact,
        credentials: RegistryCredentials | None,
        field: str,
        progress: ReadProgress | None = None,
    ) -> Outcome:
        self.asked.append(reference)
        return VerificationFailure(Reason.STORAGE_ERROR, "recorded")


def run(cluster: Refusing, registry: Registry) -> Outcome:
    settings = RegistrySettings.model_validate({"secretRef": {"name": "pull"}})
    artifact = Artifact(uri=URI, registry=settings)
    return asyncio.run(verify_oci(cluster, registry, "team-a", artifact, "spec.artifact"))  # type: ignore[arg-type]


def test_a_secret_the_operator_may_not_read_names_it_the_namespace_and_the_rule() -> None:
    cluster, registry = Refusing(403), Registry()

    outcome = run(cluster, registry)

    assert cluster.read == [("v1", "secrets", "team-a", "pull")]
    assert registry.asked == []
    assert outcome == VerificationFailure(
        Reason.CREDENTIALS_NOT_FOUND,
        "The operator may not read Secret 'pull' (spec.artifact.registry.secretRef.name) in "
        "namespace 'team-a': grant it get on secrets there.",
    )


@pytest.mark.parametrize("status", [401, 500, 503])
def test_another_failure_of_the_api_server_is_not_taken_for_missing_rights(status: int) -> None:
    registry = Registry()

    with pytest.raises(ClusterError) as raised:
        run(Refusing(status), registry)

    assert raised.value.status == status
    assert registry.asked == []
