"""Where a version runs: the workloads that name it (status.deployments), kept by the operator."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from modelregistry.api.meta import ApiModel, ShortText

# status.deployments lists at most this many; status.deploymentCount counts them all.
DEPLOYMENTS_LISTED: Final = 20


class Deployment(ApiModel):
    """A workload that names this version with a modelregistry:// URI in its own namespace."""

    kind: Literal["Pod", "InferenceService"] = Field(description="Pod or InferenceService.")
    namespace: str = Field(max_length=63, description="Its namespace (the version's own).")
    name: str = Field(max_length=253, description="Its name.")
    since: ShortText = Field(description="When the workload was created.")
