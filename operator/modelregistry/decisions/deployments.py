"""Where each version runs: the `modelregistry://` references of a workload, and what they name.

A workload (a Pod, or a KServe InferenceService) uses a version when it names
it in either of two ways:

- a `modelregistry://NAMESPACE/MODEL@TARGET` URI anywhere in its spec (an
  init container's args, an env value, an InferenceService's `storageUri`);
- the annotation `modelregistry.io/uses`: a comma-separated list of such
  URIs, or of `MODEL@TARGET` in the workload's own namespace.

The grammar is `decisions.serving`'s, and a reference resolves to the version
the Model's status would name for it (`decisions.model.resolve`, from which
the operator writes `status.resolved`, which `modelregistry fetch` reads).
One difference, on purpose: a version that stops being Ready (its bytes
tampered with) keeps its users, since that is when knowing them matters most;
an alias then names the version its number in spec.aliases names.

Only references into the workload's own namespace count. Anyone who may create
a Pod in one namespace could otherwise list someone else's version in
another, appear in its status and hold off its archiving. Within one
namespace that power is the namespace's own (docs/deployments.md).

Pods that have finished (Succeeded, Failed) use nothing, and neither do the
operator's own validation Pods.

Pure: bodies in, references and status fields out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelregistry.api.deployments import DEPLOYMENTS_LISTED
from modelregistry.decisions.model import VersionSummary, resolve
from modelregistry.decisions.serving import SCHEME, ServingUri, UriError, parse_uri, reference_to
from modelregistry.decisions.validationpod import MANAGED_BY

ANNOTATION: Final = "modelregistry.io/uses"
POD: Final = "Pod"
INFERENCE_SERVICE: Final = "InferenceService"
FINISHED_PHASES: Final = frozenset({"Succeeded", "Failed"})
# status.deployments lists at most this many users (the first by namespace, name,
# kind); status.deploymentCount counts them all. Anyone who may create Pods could
# otherwise grow a version's status without end.
LISTED: Final = DEPLOYMENTS_LISTED
# A URI ends at whitespace, a quote or a separator another tool may put after it.
_URI_IN_TEXT: Final = re.compile(re.escape(SCHEME) + r"[^\s\"',;]+")
_MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
# How deep into a spec the walk looks for strings (a Pod's env values are at 4).
_DEPTH: Final = 12

Body = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class User:
    """A workload that uses a version, as status.deployments lists it."""

    namespace: str
    name: str
    kind: str
    since: str  # when the workload was created

    def as_status(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "since": self.since,
        }

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def user_of(body: Body, kind: str) -> User:
    meta = _mapping(body.get("metadata"))
    return User(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        kind=kind,
        since=str(meta.get("creationTimestamp") or ""),
    )


def counts(body: Body, kind: str) -> bool:
    """Whether the workload can be using anything now."""
    if kind != POD:
        return True
    if _mapping(body.get("status")).get("phase") in FINISHED_PHASES:
        return False
    return not is_validation_pod(body)


def is_validation_pod(body: Body) -> bool:
    """The operator's own: its label and a ModelVersion as its controller.

    Anyone may put the label on a Pod; that only keeps their own Pod from
    counting, which protects nothing of anyone else's.
    """
    meta = _mapping(body.get("metadata"))
    if _mapping(meta.get("labels")).get(_MANAGED_BY_LABEL) != MANAGED_BY:
        return False
    return any(
        isinstance(o, Mapping) and o.get("kind") == "ModelVersion" and o.get("controller")
        for o in meta.get("ownerReferences") or []
    )


def references(body: Body, kind: str) -> tuple[ServingUri, ...]:
    """The versions the workload names in its own namespace, each once, in a stable order.

    What cannot be parsed is skipped: a workload is not ours to refuse, and a
    wrong URI fails where it is fetched, with the grammar's message.
    """
    if not counts(body, kind):
        return ()
    meta = _mapping(body.get("metadata"))
    namespace = str(meta.get("namespace") or "")
    found: dict[str, ServingUri] = {}
    texts = [*_strings(body.get("spec"), _DEPTH)]
    for text in texts:
        for match in _URI_IN_TEXT.findall(text):
            _add(found, _parsed(match))
    annotation = _mapping(meta.get("annotations")).get(ANNOTATION)
    if isinstance(annotation, str):
        for item in annotation.split(","):
            _add(found, _annotated(item.strip(), namespace))
    return tuple(found[key] for key in sorted(found) if found[key].namespace == namespace)


def _add(found: dict[str, ServingUri], uri: ServingUri | None) -> None:
    if uri is not None:
        found.setdefault(str(uri), uri)


def _parsed(text: str) -> ServingUri | None:
    try:
        return parse_uri(text)
    except UriError:
        return None


def _annotated(item: str, namespace: str) -> ServingUri | None:
    if not item:
        return None
    if item.startswith(SCHEME):
        return _parsed(item)
    model, at, target = item.partition("@")
    if not at or not namespace:
        return None
    try:
        return reference_to(namespace, model, target)
    except UriError:
        return None


def _strings(value: object, depth: int) -> Iterator[str]:
    if depth < 0:
        return
    if isinstance(value, str):
        if SCHEME in value:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth - 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth - 1)


def resolve_reference(
    uri: ServingUri, versions: Sequence[VersionSummary], aliases: Mapping[str, int]
) -> str | None:
    """The name of the ModelVersion `uri` names among its Model's `versions`, or None.

    A stage: the version the Model's status names for it (the newest holder).
    A number: the version that holds it (None when an alias has the same name:
    `modelregistry fetch` refuses such a URI as ambiguous). An alias: the
    version the Model's status names, else the one its number names.
    """
    ordered = sorted(versions, key=lambda v: v.version or 0)
    held = {v.version: v for v in ordered if v.version is not None and v.settled}
    if uri.kind == "number":
        if uri.target in aliases:
            return None
        found = held.get(uri.number)
        return found.name if found is not None else None
    resolved, _ = resolve(ordered, aliases)
    entry = resolved.get(uri.target)
    if entry is not None:
        return entry.name
    if uri.kind == "alias" and uri.target in aliases:
        found = held.get(aliases[uri.target])
        return found.name if found is not None else None
    return None


@dataclass(frozen=True)
class Deployments:
    """What status.deployments and status.deploymentCount of one version say."""

    users: tuple[User, ...]  # the first LISTED, sorted
    count: int

    @property
    def listed(self) -> list[dict[str, str]]:
        return [u.as_status() for u in self.users]

    def describe(self) -> str:
        """The users for a person: named, and how many more."""
        named = ", ".join(str(u) for u in self.users[:3])
        more = self.count - min(self.count, 3)
        return named + (f" and {more} more" if more else "")


NONE: Final = Deployments((), 0)


def deployments_of(users: Iterable[User]) -> Deployments:
    ordered = sorted(set(users))
    return Deployments(tuple(ordered[:LISTED]), len(ordered))


def recorded(status: Body) -> Deployments:
    """What a version's status says now (anything unreadable: as if nothing)."""
    listed = status.get("deployments")
    users = []
    for item in listed if isinstance(listed, list) else []:
        item = _mapping(item)
        users.append(
            User(
                namespace=str(item.get("namespace") or ""),
                name=str(item.get("name") or ""),
                kind=str(item.get("kind") or ""),
                since=str(item.get("since") or ""),
            )
        )
    count = status.get("deploymentCount")
    if not isinstance(count, int) or isinstance(count, bool):
        count = 0
    return Deployments(tuple(users), count)


def status_patch(status: Body, now: Deployments) -> dict[str, Any] | None:
    """The merge patch that makes `status` say `now`; None when it already does."""
    if recorded(status) == now:
        return None
    if now.count == 0:
        return {"deployments": None, "deploymentCount": None}
    return {"deployments": now.listed, "deploymentCount": now.count}


def _mapping(value: object) -> Body:
    return value if isinstance(value, Mapping) else {}
