"""Reading objects as the API types see them, and writing status back."""

from __future__ import annotations

import copy
import logging
from typing import Any, TypeVar

from pydantic import ValidationError

from modelregistry.api import ModelSpec, ModelStatus, ModelVersionSpec, ModelVersionStatus
from modelregistry.errors import InvalidObjectError
from modelregistry.reconciler.ports import Body

logger = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", ModelSpec, ModelVersionSpec)
StatusT = TypeVar("StatusT", ModelStatus, ModelVersionStatus)


def parse_spec(model: type[SpecT], body: Body) -> SpecT:
    try:
        return model.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise InvalidObjectError(describe_validation_error(error, "spec")) from error


def parse_status(model: type[StatusT], body: Body) -> StatusT:
    """The status as the API types read it; fields they do not know are left out.

    Unknown fields appear when a newer operator wrote status and an older one
    runs again; what this one knows (the version number above all) is kept.
    """
    data = copy.deepcopy(mapping(body.get("status")))
    if not isinstance(data.get("kopf"), dict | None):
        del data["kopf"]  # Kopf's field, not ours: never a reason to distrust the rest
    try:
        return model.model_validate(data)
    except ValidationError as error:
        unknown = [e["loc"] for e in error.errors() if e["type"] == "extra_forbidden"]
        if len(unknown) == len(error.errors()):
            for loc in unknown:
                _drop(data, loc)
            return parse_status(model, {"metadata": body["metadata"], "status": data})
        # A status we cannot read is recomputed from scratch rather than trusted.
        logger.warning("ignoring unreadable status of %s", body["metadata"].get("name"))
        return model()


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    for step in loc[:-1]:
        data = data[step]
    del data[loc[-1]]


# Lists a version's status has only once something happened: not written while empty.
_ONLY_WHEN_SET = ("approvals", "history")


def dump_status(status: ModelStatus | ModelVersionStatus) -> Body:
    """The status as written: camelCase, without Kopf's old bookkeeping."""
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"kopf"})
    for key in _ONLY_WHEN_SET:
        if dumped.get(key) == []:
            del dumped[key]
    return dumped


def baseline(body: Body, parsed: ModelStatus | ModelVersionStatus) -> Body:
    """The status to compute a patch from: as read, or as stored when it could not be read.

    A status that could not be read is replaced field by field (stale fields
    sent as null); the `kopf` field of earlier releases is never touched.
    """
    if parsed != type(parsed)():
        return dump_status(parsed)
    return {k: v for k, v in mapping(body.get("status")).items() if k != "kopf"}


def describe_validation_error(error: ValidationError, root: str) -> str:
    problems = [
        f"{'.'.join([root, *(str(p) for p in e['loc'])])}: {e['msg']}" for e in error.errors()
    ]
    return "; ".join(problems)


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def whole_number(value: Any) -> int | None:
    """A version number as stored, or None for anything else (a status nobody should trust)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
