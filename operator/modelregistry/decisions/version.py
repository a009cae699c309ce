"""One pass over a ModelVersion, put together from its steps' results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from modelregistry import conditions as cond
from modelregistry.api.modelversion import ModelVersionStatus
from modelregistry.conditions import DesiredCondition
from modelregistry.decisions import summary
from modelregistry.decisions.passdata import Decision, StepResult, VersionView
from modelregistry.reasons import Reason


def compose(
    view: VersionView,
    results: Sequence[StepResult],
    owned: Sequence[str],
    informational: Sequence[str] = (),
) -> Decision:
    """The status, Events and retry wish of a pass.

    `owned` lists every step's condition types in step order: Ready is
    derived from them. `informational` conditions (the granted stage) are
    written and announced, but do not make the version un-Ready. A step that
    did not run on this pass (an earlier one stopped the chain) keeps the
    conditions it wrote before.
    """
    old = view.status
    decided = {c.type: c for r in results for c in r.conditions}

    def kept(types: Sequence[str]) -> list[DesiredCondition]:
        found_conditions = []
        for condition_type in types:
            if condition_type in decided:
                found_conditions.append(decided[condition_type])
            elif (found := cond.find(old.conditions, condition_type)) is not None:
                found_conditions.append(
                    DesiredCondition(found.type, found.status, found.reason, found.message)
                )
        return found_conditions

    conditions = kept(owned)
    informing = kept(informational)
    updates: dict[str, object] = {}
    for result in results:
        updates.update(result.status)
    number = updates.get("version", old.version)
    ready_message = f"Version {number} of Model {view.model!r} is ready."
    summarized, retry = summary.summarize(conditions, ready_message)
    status = old.model_copy(
        update={
            **updates,
            "observed_generation": view.generation,
            "stage": updates.get("stage", old.stage or "None"),
            "conditions": cond.merge_conditions(
                old.conditions,
                [*summarized, *conditions, *informing],
                generation=view.generation,
                now=view.now,
            ),
        }
    )
    events = [e for r in results for e in r.events]
    events += [
        e
        for e in summary.transition_events(
            old.conditions, status.conditions, (*owned, *informational)
        )
        if all(e.reason != seen.reason for seen in events)
    ]
    retry = retry or any(r.retry for r in results)
    return Decision(status=status, events=tuple(events), retry=retry)


def invalid_spec(
    status: ModelVersionStatus, problem: str, generation: int, now: datetime
) -> Decision:
    """Status for a spec the API types refuse (only when the CRD schema was bypassed)."""
    message = f"The spec is invalid: {problem}. Fix the named fields and apply again."
    new = status.model_copy(
        update={
            "observed_generation": generation,
            "conditions": cond.merge_conditions(
                status.conditions,
                summary.stalled(Reason.INVALID_SPEC, message),
                generation=generation,
                now=now,
            ),
        }
    )
    events = summary.transition_events(status.conditions, new.conditions, ())
    return Decision(status=new, events=tuple(events))
