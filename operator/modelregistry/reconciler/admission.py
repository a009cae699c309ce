"""Whether approvals can be trusted: the admission policy that checks them is in place.

An approval is an entry anyone with `patch` on modelversions/status could
write; only the `modelregistry-approvals` admission policy, bound with
`Deny`, makes each entry its approver's own. The operator counts approvals
only while that policy and its binding exist and the policy exempts this
operator's own identity (the user name it authenticates as, from a
SelfSubjectReview at start); otherwise a gated stage is not granted
(`AdmissionPolicyMissing`). What was found is kept for a short while: a
burst of promotions costs one look.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from modelregistry.admission import APPROVALS, HISTORY, OPERATOR_ANNOTATION
from modelregistry.reconciler.ports import Body, ClusterPort
from modelregistry.reconciler.reading import mapping

# Seconds an answer is kept.
FRESH_FOR = 10.0
API = "admissionregistration.k8s.io/v1"


class AdmissionCheck:
    def __init__(
        self,
        cluster: ClusterPort,
        clock: Callable[[], float] = time.monotonic,
        *,
        assume_installed: bool = False,
    ) -> None:
        self._cluster = cluster
        # Told the policies are installed (an operator that may read nothing cluster-wide).
        self._assume_installed = assume_installed
        self._clock = clock
        self._user: str | None = None
        self._answer: tuple[float, str | None] | None = None

    async def problem(self) -> str | None:
        """Why approvals cannot be trusted now, as a message for a person; None when they can."""
        if self._assume_installed:
            return None
        now = self._clock()
        if self._answer is not None and now - self._answer[0] < FRESH_FOR:
            return self._answer[1]
        answer = await self._look()
        self._answer = (now, answer)
        return answer

    async def _look(self) -> str | None:
        if self._user is None:
            self._user = await self._cluster.whoami()
        install = (
            "Install the CRDs' admission policies (kubectl apply -f crds/, or the chart) for "
            f"an operator running as {self._user}."
        )
        found: dict[str, Body] = {}
        for name in (APPROVALS, HISTORY):
            policy = await self._cluster.get_cluster_object(
                API, "validatingadmissionpolicies", name
            )
            binding = await self._cluster.get_cluster_object(
                API, "validatingadmissionpolicybindings", name
            )
            if policy is None or binding is None:
                return (
                    f"The admission policy {name} (or its binding) is not installed, so nothing "
                    f"checks who wrote an approval: no gated stage is granted. {install}"
                )
            if "Deny" not in (mapping(binding.get("spec")).get("validationActions") or []):
                return f"The binding of admission policy {name} does not Deny. {install}"
            found[name] = policy
        exempt = _annotation(found[APPROVALS])
        if self._user not in exempt:
            return (
                f"The admission policy {APPROVALS} exempts {', '.join(exempt) or 'no operator'}, "
                f"not this one ({self._user}): approvals are not counted. {install}"
            )
        return None


def _annotation(body: Body) -> list[str]:
    """The exempt operators the policy names."""
    value = mapping(body["metadata"].get("annotations")).get(OPERATOR_ANNOTATION)
    return [name for name in value.split(",") if name] if isinstance(value, str) else []
