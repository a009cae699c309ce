"""Step 1: the Model that `spec.modelRef.name` names must exist."""

from __future__ import annotations

from modelregistry.conditions import DesiredCondition
from modelregistry.decisions.passdata import StepResult, VersionView
from modelregistry.reasons import MODEL_FOUND, Reason

CONDITIONS = (MODEL_FOUND,)


def decide(view: VersionView, model_found: bool) -> StepResult:
    if model_found:
        message = f"Model {view.model!r} exists in namespace {view.namespace!r}."
        return StepResult((DesiredCondition(MODEL_FOUND, "True", Reason.MODEL_EXISTS, message),))
    message = (
        f"Model {view.model!r} does not exist in namespace {view.namespace!r}. Create it (or "
        "fix spec.modelRef.name by creating a new ModelVersion); this version waits for it."
    )
    return StepResult(
        (DesiredCondition(MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, message),),
        proceed=False,
    )
