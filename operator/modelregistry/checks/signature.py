"""Input/output signatures: MLflow's, ONNX's and spec.signature's, and their agreement.

MLflow writes the signature into MLmodel as JSON strings::

    signature:
      inputs: '[{"type": "double", "name": "x"}, ...]'
      outputs: '[{"type": "long"}]'

with column entries (`{"type": "double", "name": "x"}`) or tensor entries
(`{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}`).
Both become `Column`s, and so does every item of spec.signature; element types
are compared by their canonical numpy name (`double` = `float64`, `long` =
`int64`, ...) and shapes where both sides give one, -1 matching any size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelregistry.api.modelversion import Signature as SpecSignature

# MLflow column types and the numpy-style names spec.signature uses, to one name.
_CANONICAL = {
    "double": "float64",
    "float64": "float64",
    "float": "float32",
    "float32": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "long": "int64",
    "int64": "int64",
    "integer": "int32",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint64": "uint64",
    "uint32": "uint32",
    "uint16": "uint16",
    "uint8": "uint8",
    "boolean": "bool",
    "bool": "bool",
    "string": "string",
    "str": "string",
    "binary": "bytes",
    "bytes": "bytes",
    "datetime": "datetime64",
    "datetime64": "datetime64",
}


class SignatureError(ValueError):
    """A signature that cannot be read."""


@dataclass(frozen=True)
class Column:
    """One input or output: a named column or tensor."""

    name: str | None
    dtype: str
    shape: tuple[int, ...] | None = None

    @property
    def canonical_dtype(self) -> str:
        return canonical_dtype(self.dtype)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"name": self.name, "dtype": self.dtype}
        if self.shape is not None:
            described["shape"] = list(self.shape)
        return described


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]


def canonical_dtype(dtype: str) -> str:
    lowered = dtype.strip().lower()
    return _CANONICAL.get(lowered, lowered)


def parse_mlflow_schema(text: object, where: str) -> tuple[Column, ...]:
    """Columns of one MLflow schema (the JSON string under signature.inputs/outputs)."""
    if text is None:
        return ()
    if not isinstance(text, str):
        raise SignatureError(f"{where} must be a JSON string, as MLflow writes it")
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise SignatureError(f"{where} is not valid JSON ({error})") from None
    if not isinstance(entries, list):
        raise SignatureError(f"{where} must be a JSON list of columns or tensors")
    return tuple(_mlflow_column(entry, f"{where}[{index}]") for index, entry in enumerate(entries))


def _mlflow_column(entry: object, where: str) -> Column:
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise SignatureError(f"{where} must be an object with a string 'type'")
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise SignatureError(f"{where}.name must be a string")
    if entry["type"] != "tensor":
        return Column(name=name, dtype=entry["type"])
    spec = entry.get("tensor-spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str):
        raise SignatureError(f"{where} is a tensor without a 'tensor-spec' with a string 'dtype'")
    shape = spec.get("shape")
    if shape is not None and (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    ):
        raise SignatureError(f"{where}.tensor-spec.shape must be a list of integers")
    return Column(name=name, dtype=spec["dtype"], shape=None if shape is None else tuple(shape))


def parse_mlflow_signature(mlmodel: Mapping[str, Any]) -> ModelSignature | None:
    """The signature of a parsed MLmodel, or None when it has none."""
    signature = mlmodel.get("signature")
    if signature is None:
        return None
    if not isinstance(signature, dict):
        raise SignatureError("MLmodel signature must be a mapping with inputs and outputs")
    inputs = parse_mlflow_schema(signature.get("inputs"), "MLmodel signature.inputs")
    outputs = parse_mlflow_schema(signature.get("outputs"), "MLmodel signature.outputs")
    if not inputs:
        return None
    return ModelSignature(inputs=inputs, outputs=outputs)


def from_spec(signature: SpecSignature) -> ModelSignature:
    """spec.signature as Columns; an empty shape means 'not declared'."""

    def columns(specs: Sequence[Any]) -> tuple[Column, ...]:
        return tuple(
            Column(name=s.name, dtype=s.dtype, shape=tuple(s.shape) if s.shape else None)
            for s in specs
        )

    return ModelSignature(inputs=columns(signature.inputs), outputs=columns(signature.outputs))


def compare(
    found: Sequence[Column], declared: Sequence[Column], *, found_where: str, declared_where: str
) -> list[str]:
    """Where `found` (the artifact's) and `declared` (spec.signature's) disagree.

    Both named: matched by name, every name on each side must be on the other.
    Otherwise matched by position. An empty `declared` declares nothing.
    """
    if not declared:
        return []
    problems: list[str] = []
    if all(c.name for c in found) and all(c.name for c in declared):
        by_name = {c.name: c for c in found}
        declared_names = {c.name for c in declared}
        for index, want in enumerate(declared):
            where = f"{declared_where}[{index}]"
            have = by_name.get(want.name)
            if have is None:
                names = ", ".join(str(c.name) for c in found) or "nothing"
                problems.append(
                    f"{where} declares {want.name!r}, which {found_where} does not have "
                    f"(it has {names})"
                )
                continue
            problems.extend(_compare_one(have, want, repr(want.name), found_where, where))
        problems.extend(
            f"{found_where} has {c.name!r}, which {declared_where} does not declare"
            for c in found
            if c.name not in declared_names
        )
        return problems
    if len(found) != len(declared):
        return [
            f"{found_where} has {len(found)} entries but {declared_where} declares {len(declared)}"
        ]
    for index, (have, want) in enumerate(zip(found, declared, strict=True)):
        label = repr(want.name or have.name) if (want.name or have.name) else f"#{index}"
        problems.extend(_compare_one(have, want, label, found_where, f"{declared_where}[{index}]"))
    return problems


def _compare_one(
    have: Column, want: Column, label: str, found_where: str, declared_where: str
) -> list[str]:
    problems = []
    if have.canonical_dtype != want.canonical_dtype:
        problems.append(
            f"{label} is {have.dtype} in {found_where} but {want.dtype} in {declared_where}"
        )
    if (
        have.shape is not None
        and want.shape is not None
        and not shapes_agree(have.shape, want.shape)
    ):
        problems.append(
            f"{label} has shape {list(have.shape)} in {found_where} but {list(want.shape)} "
            f"in {declared_where}"
        )
    return problems


def shapes_agree(left: Sequence[int], right: Sequence[int]) -> bool:
    """Same rank, and every dimension equal or -1 (variable) on either side."""
    return len(left) == len(right) and all(
        a == b or a == -1 or b == -1 for a, b in zip(left, right, strict=True)
    )
