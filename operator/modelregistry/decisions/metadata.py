"""Required metadata: which of the paths a Model's policy requires a version's spec lacks.

A path (`api/specpaths.py`) is set when every field on the way is set and
what it ends in is: text, a list or a map that is not empty; an object, a
number or a boolean that is there at all. Through a list, the list must
not be empty and every item must have the rest of the path; a map key
must be there with a value that is set. The admission policy's CEL
(`admission.py`) says the same for the paths of `VOCABULARY`: those through
at most one list, and the keys of maps outside lists. The others are
checked here only, by the operator, which marks a version that lacks any
with `MetadataComplete` (informational, as `StageGranted`: the lifecycle
keeps such a version from being promoted, and takes no stage it holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from modelregistry import conditions as cond
from modelregistry.api.specpaths import MAPS, PATHS, Kind, SpecPath, target
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import VersionView
from modelregistry.reasons import METADATA_COMPLETE, Reason

# What the admission policy checks: one comprehension at most per path.
VOCABULARY: Final[tuple[SpecPath, ...]] = tuple(p for p in PATHS if p.lists <= 1)
VOCABULARY_MAPS: Final[tuple[SpecPath, ...]] = tuple(m for m in MAPS if m.lists == 0)


def checked_at_admission(path: str) -> bool:
    """Whether the admission policy refuses a version that lacks `path`."""
    found = target(path)
    if found is None:
        return False
    spec_path, key = found
    return spec_path in (VOCABULARY_MAPS if key is not None else VOCABULARY)


def missing(spec: Mapping[str, object], required: Sequence[str]) -> list[str]:
    """The paths of `required` that `spec` (as on the wire) does not set, each once, in order."""
    lacking: list[str] = []
    for path in dict.fromkeys(required):
        found = target(path)
        if found is None or not _is_set(spec, *found):
            lacking.append(path)
    return lacking


def _is_set(spec: Mapping[str, object], path: SpecPath, key: str | None) -> bool:
    reached = _reached(spec, path.path.split("."))
    if reached is None:
        return False
    if key is None:
        return all(_present(value, path.kind) for value in reached)
    assert path.values is not None  # a map's path
    kind = path.values
    return all(isinstance(m, Mapping) and _present(m.get(key), kind) for m in reached)


def _reached(node: object, steps: Sequence[str]) -> list[object] | None:
    """The values at the end of `steps`; None where a field on the way is unset or a list empty."""
    if not steps:
        return [node]
    many = steps[0].endswith("[]")
    name = steps[0].removesuffix("[]")
    value = node.get(name) if isinstance(node, Mapping) else None
    if value is None:
        return None
    if not many:
        return _reached(value, steps[1:])
    if not isinstance(value, list) or not value:
        return None
    found: list[object] = []
    for item in value:
        reached = _reached(item, steps[1:])
        if reached is None:
            return None
        found += reached
    return found


def _present(value: object, kind: Kind) -> bool:
    if value is None:
        return False
    if kind in ("text", "list", "map"):
        return isinstance(value, str | list | Mapping) and len(value) > 0
    return True


def lacking(view: VersionView, required: Sequence[str]) -> list[str]:
    """The required paths the version's spec does not set."""
    if not required:
        return []
    return missing(view.spec.model_dump(mode="json", by_alias=True, exclude_none=True), required)


def condition(view: VersionView, required: Sequence[str]) -> DesiredCondition | None:
    """MetadataComplete, where the Model requires metadata (or did before: it turns True)."""
    if not required:
        if cond.find(view.status.conditions, METADATA_COMPLETE) is None:
            return None
        return DesiredCondition(
            METADATA_COMPLETE,
            "True",
            Reason.METADATA_PRESENT,
            f"Model {view.model!r} requires no metadata of its versions any more "
            "(spec.policy.requiredMetadata).",
        )
    absent = lacking(view, required)
    if not absent:
        return DesiredCondition(
            METADATA_COMPLETE,
            "True",
            Reason.METADATA_PRESENT,
            f"The spec sets everything Model {view.model!r} requires of its versions "
            f"(spec.policy.requiredMetadata): {', '.join(required)}.",
        )
    return DesiredCondition(
        METADATA_COMPLETE,
        "False",
        Reason.METADATA_INCOMPLETE,
        f"Model {view.model!r} requires {', '.join(required)} of every version "
        f"(spec.policy.requiredMetadata), and the spec lacks {', '.join(absent)}. What a version "
        "registered cannot change: register a new version that sets them. This one keeps the "
        "stage it holds and is not promoted to Staging or Production.",
    )
