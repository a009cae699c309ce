"""An MLflow run's metrics, params and link, read from the tracking server's REST API.

Plain HTTP (`GET /api/2.0/mlflow/runs/get?run_id=`), so registering needs no
MLflow installation. Credentials come from MLflow's own variables:
MLFLOW_TRACKING_TOKEN (a bearer token), or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD (basic auth).
"""

from __future__ import annotations

import base64
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelregistry.client.errors import RegistryError

TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"
TIMEOUT = 30
# spec.hyperparameters values are at most this long.
PARAM_VALUE_LIMIT = 256


class MlflowRunError(RegistryError):
    """The run cannot be read from the tracking server."""


@dataclass(frozen=True)
class MlflowRun:
    """What a ModelVersion records of a run."""

    run_id: str
    uri: str  # the run's page in the MLflow UI
    metrics: dict[str, float]
    params: dict[str, str]
    # What could not be recorded, and why: said to the caller, never dropped silently.
    skipped: tuple[str, ...] = field(default=())

    def training_run(self) -> dict[str, str]:
        """spec.lineage.trainingRun."""
        return {"id": self.run_id, "uri": self.uri, "system": "mlflow"}


def tracking_uri(given: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The tracking server's base URL: `given`, else MLFLOW_TRACKING_URI."""
    uri = given or environ.get(TRACKING_URI_VARIABLE)
    if not uri:
        raise MlflowRunError(
            f"an MLflow run was named but no tracking server: pass --mlflow-tracking-uri "
            f"http://HOST:PORT or set {TRACKING_URI_VARIABLE}"
        )
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        raise MlflowRunError(
            f"MLflow tracking URI {uri!r} is not an http(s) URL: runs are read from a "
            f"tracking server's REST API (`mlflow server`), not from a file store or databricks"
        )
    return uri.rstrip("/")


def fetch_run(
    base: str, run_id: str, environ: Mapping[str, str] = os.environ, timeout: float = TIMEOUT
) -> MlflowRun:
    """The run `run_id` from the tracking server at `base`."""
    query = urllib.parse.urlencode({"run_id": run_id})
    request = urllib.request.Request(  # noqa: S310 -- tracking_uri() admits http(s) only
        f"{base}/api/2.0/mlflow/runs/get?{query}", headers=_auth_headers(environ)
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise MlflowRunError(_http_error(base, run_id, error)) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise MlflowRunError(
            f"cannot reach the MLflow tracking server at {base} ({reason}): check "
            f"--mlflow-tracking-uri or {TRACKING_URI_VARIABLE}"
        ) from None
    except json.JSONDecodeError:
        raise MlflowRunError(
            f"{base} answered runs/get with something other than JSON: is it an MLflow "
            f"tracking server?"
        ) from None
    return parse_run(base, body)


def parse_run(base: str, body: Any) -> MlflowRun:
    """An MlflowRun from a runs/get answer (`{"run": {"info": ..., "data": ...}}`)."""
    try:
        info = body["run"]["info"]
        data = body["run"].get("data") or {}
        run_id = str(info["run_id"])
        experiment = str(info["experiment_id"])
    except (KeyError, TypeError):
        raise MlflowRunError(
            f"{base} answered runs/get without run.info: is it an MLflow tracking server?"
        ) from None
    skipped: list[str] = []
    metrics: dict[str, float] = {}
    for entry in data.get("metrics") or []:
        value = float(entry["value"])
        if math.isfinite(value):
            metrics[str(entry["key"])] = value
        else:
            skipped.append(f"metric {entry['key']} ({value} is not a finite number)")
    params: dict[str, str] = {}
    for entry in data.get("params") or []:
        text = str(entry.get("value", ""))
        if len(text) > PARAM_VALUE_LIMIT:
            skipped.append(
                f"param {entry['key']} (its value is {len(text)} characters; "
                f"spec.hyperparameters holds at most {PARAM_VALUE_LIMIT})"
            )
        else:
            params[str(entry["key"])] = text
    return MlflowRun(
        run_id=run_id,
        uri=f"{base}/#/experiments/{experiment}/runs/{run_id}",
        metrics=metrics,
        params=params,
        skipped=tuple(skipped),
    )


def _auth_headers(environ: Mapping[str, str]) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token := environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    elif (user := environ.get("MLFLOW_TRACKING_USERNAME")) is not None:
        pair = f"{user}:{environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return headers


def _http_error(base: str, run_id: str, error: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(error.read())
        code, detail = str(answer.get("error_code") or ""), str(answer.get("message") or "")
    except (ValueError, AttributeError, OSError):
        code, detail = "", ""
    if error.code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return f"MLflow run {run_id!r} does not exist at {base}: check --mlflow-run"
    if error.code in (401, 403):
        return (
            f"the MLflow tracking server at {base} refused to show run {run_id!r} "
            f"({error.code}): set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
            f"MLFLOW_TRACKING_PASSWORD"
        )
    return f"the MLflow tracking server at {base} answered {error.code} for run {run_id!r}: " + (
        detail or str(error.reason)
    )
