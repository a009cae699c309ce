"""What the checks share: their errors, optional imports and artifact layout helpers."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

INSTALL_HINT = "pip install 'modelregistry-operator[validate]'"
# The file an MLflow model directory is recognised by.
MLMODEL = "MLmodel"
ENVIRONMENT_FILES = ("conda.yaml", "python_env.yaml", "requirements.txt")
FORMATS = ("mlflow", "onnx", "safetensors", "pickle", "joblib", "other")
_SUFFIXES = {
    ".onnx": "onnx",
    ".safetensors": "safetensors",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
}


class UsageError(Exception):
    """Bad input to a check (exit code 2): the artifact was not judged."""


class MissingDependencyError(UsageError):
    """A library the check needs is not installed."""


class ArtifactProblem(Exception):
    """The artifact fails the check, for the reason in the message (exit code 1)."""


def import_optional(module: str, package: str, check: str) -> ModuleType:
    """Import a heavy library only when a check needs it; name the package when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"the {check} check needs the Python package {package}, which cannot be imported "
            f"({error}): {INSTALL_HINT}"
        ) from None


def infer_format(artifact: Path) -> str | None:
    """The format a local artifact looks like, or None when it cannot be told."""
    if artifact.is_dir():
        if (artifact / MLMODEL).is_file():
            return "mlflow"
        found = {_SUFFIXES.get(p.suffix.lower()) for p in artifact.rglob("*") if p.is_file()}
        found.discard(None)
        return found.pop() if len(found) == 1 else None
    if artifact.name == MLMODEL:
        return "mlflow"
    return _SUFFIXES.get(artifact.suffix.lower())


def mlflow_root(artifact: Path) -> Path:
    """The MLflow model directory: the artifact, or the directory of a given MLmodel file."""
    root = artifact.parent if artifact.is_file() and artifact.name == MLMODEL else artifact
    if not root.is_dir():
        raise ArtifactProblem(
            f"{artifact.name} is a single file, but an MLflow model is a directory holding "
            f"an {MLMODEL} file: upload the whole model directory (a prefix)"
        )
    if not (root / MLMODEL).is_file():
        raise ArtifactProblem(
            f"the artifact has no {MLMODEL} file at its top level, so it is not an MLflow "
            f"model: upload the directory mlflow.<flavor>.save_model wrote, or declare the "
            f"right spec.artifact.format"
        )
    return root


def read_mlmodel(root: Path) -> dict[str, Any]:
    """The parsed MLmodel of an MLflow model directory."""
    try:
        parsed = yaml.safe_load((root / MLMODEL).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ArtifactProblem(f"{MLMODEL} is not valid YAML ({reason})") from None
    if not isinstance(parsed, dict):
        raise ArtifactProblem(f"{MLMODEL} must be a YAML mapping with a 'flavors' key")
    return parsed


def named_file(root: Path, name: object, where: str) -> Path:
    """A file MLmodel names (at `where`): it must stay inside the artifact and exist."""
    if not isinstance(name, str) or not name:
        raise ArtifactProblem(f"{MLMODEL} {where} must be a relative path, not {name!r}")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ArtifactProblem(
            f"{MLMODEL} names {name} ({where}), which points outside the artifact: "
            f"paths in {MLMODEL} are relative to the model directory"
        )
    path = root / relative
    if not path.exists():
        raise ArtifactProblem(
            f"{MLMODEL} names {name} ({where}), which is missing from the artifact: "
            f"upload the complete model directory"
        )
    return path


def single_file(artifact: Path, suffixes: tuple[str, ...], kind: str) -> Path:
    """The artifact if it is a file, else the one file under it with one of `suffixes`."""
    if artifact.is_file():
        return artifact
    found = sorted(p for p in artifact.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise ArtifactProblem(
            f"the artifact directory holds no {kind} file ({', '.join(suffixes)})"
        )
    if len(found) > 1:
        names = ", ".join(p.relative_to(artifact).as_posix() for p in found[:5])
        raise ArtifactProblem(
            f"the artifact directory holds {len(found)} {kind} files ({names}): "
            f"point the check at one of them"
        )
    return found[0]
