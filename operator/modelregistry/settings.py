"""Operator settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from modelregistry.storage import Endpoint

PREFIX = "MODELREGISTRY_"


@dataclass(frozen=True)
class Settings:
    default_endpoint: Endpoint
    """Object store used when a ModelVersion names no spec.artifact.storage.endpoint."""
    reverify_interval: timedelta
    """How old a verification may get before the bytes are hashed again."""
    check_interval: float
    """Seconds between periodic passes over each object (re-verification, waiting states)."""
    max_concurrent_verifications: int
    """Artifacts hashed at once; each may use `file_workers` threads."""
    file_workers: int
    """Threads that hash the files of one prefix artifact in parallel."""
    retry_base_delay: float
    retry_max_delay: float
    namespace: str | None
    """Watch only this namespace; None watches all (the cluster-wide default)."""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def number(name: str, default: float) -> float:
            raw = env.get(PREFIX + name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a number") from None
            if value <= 0:
                raise ValueError(f"{PREFIX}{name}={raw!r}: must be greater than zero")
            return value

        return cls(
            default_endpoint=Endpoint(
                url=env.get(PREFIX + "S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or None,
                region=env.get(PREFIX + "S3_REGION") or None,
                addressing_style=env.get(PREFIX + "S3_ADDRESSING_STYLE") or None,
            ),
            reverify_interval=timedelta(seconds=number("REVERIFY_INTERVAL", 3600)),
            check_interval=number("CHECK_INTERVAL", 60),
            max_concurrent_verifications=int(number("MAX_CONCURRENT_VERIFICATIONS", 2)),
            file_workers=int(number("FILE_WORKERS", 4)),
            retry_base_delay=number("RETRY_BASE_DELAY", 2),
            retry_max_delay=number("RETRY_MAX_DELAY", 60),
            namespace=env.get(PREFIX + "NAMESPACE") or None,
        )

    def retry_delay(self, retry: int) -> float:
        """Exponential backoff for transient failures, capped."""
        return float(min(self.retry_max_delay, self.retry_base_delay * 2 ** min(retry, 16)))
