"""Which verified bytes a `modelregistry://` URI names, read through the API as the caller.

Reads the Model, then the version its status resolves the stage or alias to
(or the Model's versions, for a number): `get` and `list` on models and
modelversions in the URI's namespace, which the `modelregistry-view`
ClusterRole grants (and Kubernetes' own view, edit and admin, which
aggregate it). The decision is `decisions/serving.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from kubernetes.client.exceptions import ApiException

from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.client.errors import Refused, RegistryError
from modelregistry.client.session import Body, Session, said
from modelregistry.decisions.serving import Pinned, Refusal, ServingUri, choose, version_to_read

T = TypeVar("T")


def pinned(session: Session, uri: ServingUri) -> Pinned:
    """The verified record of the version `uri` names now; RegistryError says why none."""
    try:
        model = _read(session, uri, lambda: session.get(MODELS, uri.model))
        name = version_to_read(uri, model)
        if name is None:
            versions = _read(
                session,
                uri,
                lambda: session.list_objects(
                    MODELVERSIONS, field_selector=f"spec.modelRef.name={uri.model}"
                ),
            )
        else:
            versions = _read(session, uri, lambda: _version_named(session, uri, name))
        return choose(uri, model, versions)
    except Refusal as refusal:
        raise RegistryError(str(refusal)) from None


def _version_named(session: Session, uri: ServingUri, name: str) -> list[Body]:
    """The ModelVersion of that name, or none when it is gone."""
    try:
        body = session.custom.get_namespaced_custom_object(
            GROUP, VERSION, uri.namespace, MODELVERSIONS, name
        )
    except ApiException as error:
        if error.status == 404:
            return []
        raise Refused(said(error)) from None
    return [cast(Body, body)]


def _read(session: Session, uri: ServingUri, call: Callable[[], T]) -> T:
    """`call`, with a refusal explained: which RBAC reading `uri` takes."""
    if session.namespace != uri.namespace:
        raise ValueError(f"a session in {session.namespace!r} cannot read {uri}")
    try:
        return call()
    except Refused as refused:
        raise Refused(
            f"{refused}. Reading {uri} takes get and list on models and modelversions in "
            f"namespace {uri.namespace!r}: bind the modelregistry-view ClusterRole there "
            "(docs/serving.md)"
        ) from None
