"""What an MLflow model directory says about itself, as ModelVersion spec fields.

MLmodel names the flavors, the run that logged the model (`run_id`) and the
signature, whose inputs and outputs MLflow writes as JSON strings of column
or tensor specs; `checks.signature` parses those, as the format check does,
so what `register` declares is what that check compares against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelregistry.checks.common import MLMODEL, ArtifactProblem, read_mlmodel
from modelregistry.checks.signature import (
    Column,
    ModelSignature,
    SignatureError,
    parse_mlflow_signature,
)
from modelregistry.client.errors import RegistryError

FLAVORS_ANNOTATION = "modelregistry.io/mlflow-flavors"


class MlflowModelError(RegistryError):
    """An MLmodel file that cannot be read."""


@dataclass(frozen=True)
class MlflowModel:
    """The parts of MLmodel a ModelVersion records."""

    flavors: tuple[str, ...]
    signature: dict[str, Any] | None  # spec.signature
    run_id: str | None


def is_mlflow_model(path: Path) -> bool:
    return path.is_dir() and (path / MLMODEL).is_file()


def read_mlflow_model(root: Path) -> MlflowModel:
    """Flavors, signature and run id of the MLflow model directory `root`."""
    try:
        mlmodel = read_mlmodel(root)
    except ArtifactProblem as problem:
        raise MlflowModelError(f"{root / MLMODEL}: {problem}") from None
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise MlflowModelError(
            f"{root / MLMODEL} names no flavors: save the model with mlflow.<flavor>.save_model"
        )
    try:
        signature = parse_mlflow_signature(mlmodel)
    except SignatureError as error:
        raise MlflowModelError(f"{root / MLMODEL}: {error}") from None
    run_id = mlmodel.get("run_id")
    return MlflowModel(
        flavors=tuple(sorted(str(f) for f in flavors)),
        signature=None if signature is None else spec_signature(signature),
        run_id=str(run_id) if run_id else None,
    )


def spec_signature(signature: ModelSignature) -> dict[str, Any]:
    """spec.signature from a parsed MLflow signature.

    spec.signature names every entry; an unnamed MLflow column or tensor
    (typical of outputs) gets `input_<i>` or `output_<i>`. The format check
    matches unnamed entries by position, so the made-up name never disagrees.
    Element types are written by their numpy names (MLflow's `double` is
    `float64`); a column has no shape, a tensor keeps MLflow's (-1: any size).
    """
    return {
        "inputs": [_tensor(c, f"input_{i}") for i, c in enumerate(signature.inputs)],
        "outputs": [_tensor(c, f"output_{i}") for i, c in enumerate(signature.outputs)],
    }


def _tensor(column: Column, fallback: str) -> dict[str, Any]:
    tensor: dict[str, Any] = {"name": column.name or fallback, "dtype": column.canonical_dtype}
    if column.shape is not None:
        tensor["shape"] = list(column.shape)
    return tensor
