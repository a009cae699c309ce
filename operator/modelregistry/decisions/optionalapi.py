"""Resources the operator watches only where the cluster has them: KServe's InferenceServices.

A cluster without KServe does not serve `serving.kserve.io/v1beta1`, and an
operator installed with an older chart (or a Role someone trimmed) may not
list InferenceServices. Neither is an error of the operator's: it runs as
without them, says once why they are not watched, and looks again
(`optionalinformer.py`). What it looks at is the API server's discovery
document of the group version, a GET any authenticated user may make.

Pure: discovery bodies and HTTP statuses in, states and sentences out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# What the operator does with such a resource: list it, then watch it.
NEEDED_VERBS: Final = frozenset({"list", "watch"})
# Answers to a LIST or WATCH that retrying does not mend: the informer gives up on them.
REFUSALS: Final = frozenset({403, 404})


@dataclass(frozen=True)
class Resource:
    """A namespaced resource of another project's CRD."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def crd(self) -> str:
        return f"{self.plural}.{self.group}"

    def collection(self, namespace: str | None) -> str:
        """The path to LIST and WATCH, in one namespace or in all."""
        if namespace is None:
            return f"/apis/{self.group_version}/{self.plural}"
        return f"/apis/{self.group_version}/namespaces/{namespace}/{self.plural}"

    @property
    def rule(self) -> str:
        """The RBAC rule the operator needs, as a person writes it in a Role."""
        return f"get, list, watch on {self.plural} in apiGroup {self.group}"


INFERENCE_SERVICES: Final = Resource(
    "serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService"
)


class State(enum.Enum):
    """Whether a resource can be watched, and if not, why."""

    WATCHED = "watched"
    NOT_SERVED = "not served"  # the CRD is not installed (or not that version)
    FORBIDDEN = "forbidden"  # the operator's identity may not list it


def served(resource_list: Mapping[str, Any] | None, resource: Resource) -> bool:
    """Whether a discovery document (an APIResourceList; None: 404) lists `resource` to
    list and watch."""
    if not isinstance(resource_list, Mapping):
        return False
    listed = resource_list.get("resources")
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, Mapping) or item.get("name") != resource.plural:
            continue
        verbs = item.get("verbs")
        return isinstance(verbs, list) and {v for v in verbs if isinstance(v, str)} >= NEEDED_VERBS
    return False


def state_of_refusal(status: int | None) -> State | None:
    """What an API server's refusal of a LIST or WATCH means for watching; None: a failure
    like any other (retried as the informer retries)."""
    if status == 404:
        return State.NOT_SERVED
    if status == 403:
        return State.FORBIDDEN
    return None


def scope_text(namespace: str | None) -> str:
    return "in any namespace" if namespace is None else f"in namespace {namespace}"


def explain(resource: Resource, state: State, namespace: str | None, interval: float) -> str:
    """The one log line that says whether `resource` is watched now, and if not, what to do."""
    kinds = f"{resource.kind}s"
    again = f"looking again every {interval:g} s"
    if state is State.WATCHED:
        return (
            f"{kinds} are served ({resource.group_version}): watching them {scope_text(namespace)}"
        )
    if state is State.NOT_SERVED:
        return (
            f"{kinds} are not watched: the API server does not serve {resource.group_version} "
            f"(the CRD {resource.crd} is not installed); {again}, "
            "and they are watched once it is"
        )
    return (
        f"{kinds} are not watched {scope_text(namespace)}: the operator may not list "
        f"{resource.crd} there; grant it {resource.rule} (the chart's ClusterRole "
        f"and Roles do); {again}"
    )
