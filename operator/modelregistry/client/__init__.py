"""The registry from a person's, a pipeline's or training code's side.

    from modelregistry.client import register_model

    version = register_model("model/", "churn", to="s3://models/churn/7/", wait=True)
    print(version.name, version.digest)

Every call goes to the API server as the caller (KUBECONFIG, or
impersonated with `as_user`), so what the API server's RBAC and admission
policies allow is exactly what succeeds. Every failure is a RegistryError
whose message names what to fix; a refusal by the API server is `Refused`,
in its own words. The `modelregistry` commands are a thin layer over these.
"""

from modelregistry.client.catalog import (
    Request,
    Traffic,
    descendants_of,
    parse_query,
    search_versions,
)
from modelregistry.client.errors import (
    BadQuery,
    Refused,
    RegistryError,
    VersionStalled,
    WaitTimedOut,
)
from modelregistry.client.lifecycle import (
    MAX_CONFLICTS,
    Reference,
    approve,
    history,
    lineage,
    resolve,
)
from modelregistry.client.register import RegisteredVersion, register_model
from modelregistry.client.session import Body, Session
from modelregistry.client.transfer import TransferSettings
from modelregistry.client.versions import (
    VersionSummary,
    list_versions,
    promote,
    status,
    wait_ready,
)
from modelregistry.decisions.catalog import CatalogEntry
from modelregistry.decisions.catalogquery import Query

__all__ = [
    "MAX_CONFLICTS",
    "BadQuery",
    "Body",
    "CatalogEntry",
    "Query",
    "Reference",
    "Refused",
    "RegisteredVersion",
    "RegistryError",
    "Request",
    "Session",
    "Traffic",
    "TransferSettings",
    "VersionStalled",
    "VersionSummary",
    "WaitTimedOut",
    "approve",
    "descendants_of",
    "history",
    "lineage",
    "list_versions",
    "parse_query",
    "promote",
    "register_model",
    "resolve",
    "search_versions",
    "status",
    "wait_ready",
]
