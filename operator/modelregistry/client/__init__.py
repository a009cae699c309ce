"""The registry from a person's, a pipeline's or training code's side.

    from modelregistry.client import register_model

    version = register_model("model/", "churn", to="s3://models/churn/7/", wait=True)
    print(version.name, version.digest)

Every call goes to the API server as the caller (KUBECONFIG, or
impersonated with `as_user`), so what the API server's RBAC and admission
policies allow is exactly what succeeds. Every failure is a RegistryError
whose message names what to fix; a refusal by the API server is `Refused`,
in its own words. The `modelregistry` commands are a thin layer over these.

The names are imported when first used (PEP 562): `modelregistry fetch`, an
init container's whole job, starts without the catalog's, registering's
and signing's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelregistry.lazynames import lazy_getattr

if TYPE_CHECKING:
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

# Where each public name lives, for __getattr__.
_HOMES: dict[str, str] = {
    "BadQuery": "modelregistry.client.errors",
    "Body": "modelregistry.client.session",
    "CatalogEntry": "modelregistry.decisions.catalog",
    "MAX_CONFLICTS": "modelregistry.client.lifecycle",
    "Query": "modelregistry.decisions.catalogquery",
    "Reference": "modelregistry.client.lifecycle",
    "Refused": "modelregistry.client.errors",
    "RegisteredVersion": "modelregistry.client.register",
    "RegistryError": "modelregistry.client.errors",
    "Request": "modelregistry.client.catalog",
    "Session": "modelregistry.client.session",
    "Traffic": "modelregistry.client.catalog",
    "TransferSettings": "modelregistry.client.transfer",
    "VersionStalled": "modelregistry.client.errors",
    "VersionSummary": "modelregistry.client.versions",
    "WaitTimedOut": "modelregistry.client.errors",
    "approve": "modelregistry.client.lifecycle",
    "descendants_of": "modelregistry.client.catalog",
    "history": "modelregistry.client.lifecycle",
    "lineage": "modelregistry.client.lifecycle",
    "list_versions": "modelregistry.client.versions",
    "parse_query": "modelregistry.client.catalog",
    "promote": "modelregistry.client.versions",
    "register_model": "modelregistry.client.register",
    "resolve": "modelregistry.client.lifecycle",
    "search_versions": "modelregistry.client.catalog",
    "status": "modelregistry.client.versions",
    "wait_ready": "modelregistry.client.versions",
}


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
