"""Operator settings, built once at start-up and passed to what needs them."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import timedelta

from modelregistry.storage import Endpoint

PREFIX = "MODELREGISTRY_"
ADDRESSING_STYLES = ("auto", "path", "virtual")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
# The image `hack/build-image.sh` tags, and the chart deploys.
DEFAULT_IMAGE = "localhost/modelregistry/operator:dev"


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
    validation_image: str
    """The registry's own image, run by validation Pods (fetch and built-in checks)."""
    validation_pull_policy: str
    validation_endpoint: str | None
    """The S3 endpoint as validation Pods reach it (default: default_endpoint's)."""
    validation_secret: str | None
    """Secret (in a version's namespace) the fetch step uses when the artifact names none."""
    model_refresh_window: float
    """Seconds a Model's status waits after a change of its versions, so a burst is one write."""
    namespaces: tuple[str, ...]
    """Watch only these namespaces (comma-separated); empty watches all, the default."""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def read(name: str) -> str | None:
            raw = env.get(PREFIX + name)
            return raw if raw else None

        def seconds(name: str, default: float) -> float:
            raw = read(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a number of seconds") from None
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{PREFIX}{name}={raw!r}: must be greater than zero and finite")
            return value

        def count(name: str, default: int) -> int:
            raw = read(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a number (whole)") from None
            if value < 1:
                raise ValueError(f"{PREFIX}{name}={raw!r}: must be greater than zero")
            return value

        addressing = read("S3_ADDRESSING_STYLE")
        if addressing not in (None, *ADDRESSING_STYLES):
            raise ValueError(
                f"{PREFIX}S3_ADDRESSING_STYLE={addressing!r}: expected one of "
                + ", ".join(ADDRESSING_STYLES)
            )

        pull_policy = read("VALIDATION_IMAGE_PULL_POLICY") or "IfNotPresent"
        if pull_policy not in PULL_POLICIES:
            raise ValueError(
                f"{PREFIX}VALIDATION_IMAGE_PULL_POLICY={pull_policy!r}: expected one of "
                + ", ".join(PULL_POLICIES)
            )

        return cls(
            default_endpoint=Endpoint(
                url=read("S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or None,
                region=read("S3_REGION"),
                addressing_style=addressing,
            ),
            reverify_interval=timedelta(seconds=seconds("REVERIFY_INTERVAL", 3600)),
            check_interval=seconds("CHECK_INTERVAL", 60),
            max_concurrent_verifications=count("MAX_CONCURRENT_VERIFICATIONS", 2),
            file_workers=count("FILE_WORKERS", 4),
            retry_base_delay=seconds("RETRY_BASE_DELAY", 2),
            retry_max_delay=seconds("RETRY_MAX_DELAY", 60),
            model_refresh_window=seconds("MODEL_REFRESH_WINDOW", 1),
            validation_image=read("VALIDATION_IMAGE") or DEFAULT_IMAGE,
            validation_pull_policy=pull_policy,
            validation_endpoint=read("VALIDATION_S3_ENDPOINT")
            or read("S3_ENDPOINT")
            or env.get("AWS_ENDPOINT_URL")
            or None,
            validation_secret=read("VALIDATION_SECRET"),
            namespaces=tuple(n.strip() for n in (read("NAMESPACES") or "").split(",") if n.strip()),
        )

    def retry_delay(self, retry: int) -> float:
        """Exponential backoff for transient failures, capped."""
        return float(min(self.retry_max_delay, self.retry_base_delay * 2 ** min(retry, 16)))
