"""Step 1, the Model reference: its exact condition, and whether later steps run."""

from __future__ import annotations

import pytest

from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import modelref
from modelregistry.decisions.passdata import StepResult
from modelregistry.reasons import MODEL_FOUND, Reason

from .builders import make_spec, make_view, model_exists, model_missing


def test_the_step_owns_model_found_only() -> None:
    assert modelref.CONDITIONS == (MODEL_FOUND,)


@pytest.mark.parametrize(("model", "namespace"), [("fraud", "team-a"), ("churn", "risk-prod")])
def test_an_existing_model_lets_the_pass_go_on(model: str, namespace: str) -> None:
    view = make_view(make_spec(model=model), namespace=namespace)

    result = modelref.decide(view, True)

    assert result == StepResult(
        (
            DesiredCondition(
                MODEL_FOUND, "True", Reason.MODEL_EXISTS, model_exists(model, namespace)
            ),
        )
    )
    assert result.proceed is True
    assert result.status == {}
    assert result.events == ()


@pytest.mark.parametrize(("model", "namespace"), [("fraud", "team-a"), ("churn", "risk-prod")])
def test_a_missing_model_stops_the_chain(model: str, namespace: str) -> None:
    view = make_view(make_spec(model=model), namespace=namespace)

    result = modelref.decide(view, False)

    assert result == StepResult(
        (
            DesiredCondition(
                MODEL_FOUND, "False", Reason.MODEL_NOT_FOUND, model_missing(model, namespace)
            ),
        ),
        proceed=False,
    )
    assert result.status == {}
    assert result.events == ()


def test_the_missing_model_message_in_full() -> None:
    (found,) = modelref.decide(
        make_view(make_spec(model="churn"), namespace="ml"), False
    ).conditions

    assert found.message == (
        "Model 'churn' does not exist in namespace 'ml'. Create it (or fix spec.modelRef.name "
        "by creating a new ModelVersion); this version waits for it."
    )
