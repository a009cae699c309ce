"""The registry from a person's or a pipeline's side: approve, resolve, history, lineage.

Every call goes to the API server as the caller (KUBECONFIG, or
impersonated with `as_user`), so what the API server's RBAC and admission
policies allow is exactly what succeeds; a refusal is raised as
`Refused`, with the API server's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from kubernetes.client.exceptions import ApiException

from modelregistry.api.meta import GROUP, MODELS, MODELVERSIONS, VERSION
from modelregistry.client.errors import Refused, RegistryError
from modelregistry.client.serving import pinned
from modelregistry.client.session import Body, Session, said
from modelregistry.conditions import format_time
from modelregistry.decisions.serving import UriError, reference_to

MAX_CONFLICTS = 5


def approve(
    session: Session,
    version: str,
    stage: str,
    comment: str | None = None,
    *,
    now: datetime | None = None,
) -> Body:
    """Append this caller's approval of `stage` to the version's status.approvals.

    The entry names the caller (and those of the caller's groups the Model's
    approvers list names); the API server's admission policy refuses it
    unless the caller holds `approve` on the Model. Returns the entry.
    """
    user, groups = session.whoami()
    for _ in range(MAX_CONFLICTS):
        body = session.get(MODELVERSIONS, version)
        model = session.get(MODELS, body["spec"]["modelRef"]["name"])
        approvers = set(
            (((model.get("spec") or {}).get("policy") or {}).get("approval") or {}).get("approvers")
            or []
        )
        entry: Body = {
            "stage": stage,
            "user": user,
            "groups": sorted(g for g in groups if g in approvers),
            "time": format_time(now or datetime.now(UTC)),
        }
        if comment:
            entry["comment"] = comment
        approvals = list((body.get("status") or {}).get("approvals") or [])
        patch = {
            "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
            "status": {"approvals": [*approvals, entry]},
        }
        try:
            session.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, session.namespace, MODELVERSIONS, version, patch
            )
        except ApiException as error:
            if error.status == 409:
                continue  # someone else wrote the status meanwhile: read it again
            raise Refused(said(error)) from None
        return entry
    raise RegistryError(f"the status of {version} kept changing; try again")


@dataclass(frozen=True)
class Reference:
    """`model@target`: target is a stage (Staging, Production), an alias, or a version number."""

    model: str
    target: str

    @classmethod
    def parse(cls, text: str) -> Reference:
        model, at, target = text.partition("@")
        if not at or not model or not target:
            raise RegistryError(
                f"{text!r}: write MODEL@TARGET, e.g. churn@champion, churn@Production or churn@3"
            )
        return cls(model, target)


def resolve(session: Session, reference: Reference) -> Body:
    """The verified version a stage, an alias or a number names now (as `modelregistry://`
    URIs resolve: decisions/serving.py): version, name, stage, URI, digest, versionId."""
    try:
        uri = reference_to(session.namespace, reference.model, reference.target)
    except UriError as error:
        raise RegistryError(str(error)) from None
    return pinned(session, uri).resolved()


def history(session: Session, version: str) -> tuple[Body | None, list[Body]]:
    """The summary of older entries (if any) and the history entries, oldest first."""
    status = session.get(MODELVERSIONS, version).get("status") or {}
    return status.get("historySummary"), list(status.get("history") or [])


def lineage(session: Session, version: str) -> Body:
    """What the version came from, and which versions name it as their parent."""
    body = session.get(MODELVERSIONS, version)
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    own = {
        "model": spec["modelRef"]["name"],
        "version": status.get("version") or spec.get("version"),
    }
    listing = cast(
        Body,
        session.custom.list_namespaced_custom_object(
            GROUP, VERSION, session.namespace, MODELVERSIONS
        ),
    )
    children = sorted(
        item["metadata"]["name"]
        for item in listing["items"]
        if own
        in [
            {"model": p.get("model"), "version": p.get("version")}
            for p in ((item.get("spec") or {}).get("lineage") or {}).get("parents") or []
        ]
    )
    return {"version": own, "lineage": spec.get("lineage") or {}, "children": children}
