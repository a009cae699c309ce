"""Signatures: MLflow's JSON schema strings, spec.signature, and where they disagree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelregistry.api.modelversion import Signature
from modelregistry.checks.common import infer_format
from modelregistry.checks.signature import (
    Column,
    ModelSignature,
    SignatureError,
    canonical_dtype,
    compare,
    from_spec,
    parse_mlflow_schema,
    parse_mlflow_signature,
    shapes_agree,
)

WHERE = "MLmodel signature.inputs"


def test_column_and_tensor_entries() -> None:
    text = json.dumps(
        [
            {"type": "double", "name": "x", "required": True},
            {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}, "name": "t"},
            {"type": "tensor", "tensor-spec": {"dtype": "int64"}},
            {"type": "array", "items": {"type": "string"}, "name": "tags"},
        ]
    )

    assert parse_mlflow_schema(text, WHERE) == (
        Column("x", "double"),
        Column("t", "float32", (-1, 4)),
        Column(None, "int64"),
        Column("tags", "array"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["x"], f"{WHERE} must be a JSON string, as MLflow writes it"),
        (
            "{",
            f"{WHERE} is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))",
        ),
        ('{"type": "double"}', f"{WHERE} must be a JSON list of columns or tensors"),
        ('[{"name": "x"}]', f"{WHERE}[0] must be an object with a string 'type'"),
        ('[{"type": "long"}, 3]', f"{WHERE}[1] must be an object with a string 'type'"),
        ('[{"type": "long", "name": 3}]', f"{WHERE}[0].name must be a string"),
        (
            '[{"type": "tensor"}]',
            f"{WHERE}[0] is a tensor without a 'tensor-spec' with a string 'dtype'",
        ),
        (
            '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [1, "n"]}}]',
            f"{WHERE}[0].tensor-spec.shape must be a list of integers",
        ),
        (
            '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [true]}}]',
            f"{WHERE}[0].tensor-spec.shape must be a list of integers",
        ),
    ],
)
def test_unreadable_schemas_are_named(value: object, message: str) -> None:
    with pytest.raises(SignatureError) as raised:
        parse_mlflow_schema(value, WHERE)
    assert str(raised.value) == message


def test_an_mlmodel_without_inputs_has_no_signature() -> None:
    assert parse_mlflow_signature({}) is None
    assert parse_mlflow_signature({"signature": {"inputs": "[]", "outputs": None}}) is None
    with pytest.raises(SignatureError) as raised:
        parse_mlflow_signature({"signature": "x"})
    assert str(raised.value) == "MLmodel signature must be a mapping with inputs and outputs"
    assert parse_mlflow_signature(
        {"signature": {"inputs": '[{"type": "long", "name": "a"}]', "outputs": None}}
    ) == ModelSignature(inputs=(Column("a", "long"),), outputs=())


def test_spec_signature_empty_shape_means_undeclared() -> None:
    spec = Signature.model_validate(
        {
            "inputs": [
                {"name": "x", "dtype": "float32", "shape": [-1, 2]},
                {"name": "y", "dtype": "int64"},
            ]
        }
    )

    assert from_spec(spec) == ModelSignature(
        inputs=(Column("x", "float32", (-1, 2)), Column("y", "int64")), outputs=()
    )


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("double", "float64"),
        ("Float64", "float64"),
        ("float", "float32"),
        ("long", "int64"),
        ("integer", "int32"),
        ("boolean", "bool"),
        ("binary", "bytes"),
        ("str", "string"),
        ("datetime", "datetime64"),
        (" complex128 ", "complex128"),
    ],
)
def test_canonical_dtypes(written: str, canonical: str) -> None:
    assert canonical_dtype(written) == canonical


@pytest.mark.parametrize(
    ("left", "right", "agree"),
    [
        ((-1, 3), (5, 3), True),
        ((2, 3), (2, -1), True),
        ((2, 3), (2, 4), False),
        ((3,), (3, 1), False),
        ((), (), True),
    ],
)
def test_shapes(left: tuple[int, ...], right: tuple[int, ...], agree: bool) -> None:
    assert shapes_agree(left, right) is agree


def test_nothing_declared_agrees_with_anything() -> None:
    assert compare((Column("x", "double"),), (), found_where="A", declared_where="B") == []


def test_unnamed_entries_are_compared_by_position() -> None:
    found = (Column(None, "float32", (-1, 4)), Column(None, "int64"))

    assert compare(
        found,
        (Column("a", "float64", (-1, 4)), Column("b", "int64")),
        found_where="the graph",
        declared_where="spec.signature.inputs",
    ) == ["'a' is float32 in the graph but float64 in spec.signature.inputs[0]"]
    assert compare(
        found,
        (Column(None, "float", (-1, 5)), Column(None, "long")),
        found_where="the graph",
        declared_where="spec.signature.inputs",
    ) == ["#0 has shape [-1, 4] in the graph but [-1, 5] in spec.signature.inputs[0]"]
    assert compare(
        found,
        (Column("a", "float32"),),
        found_where="the graph",
        declared_where="spec.signature.inputs",
    ) == ["the graph has 2 entries but spec.signature.inputs declares 1"]


def test_named_entries_are_compared_by_name_in_any_order() -> None:
    found = (Column("a", "double"), Column("b", "long"))

    assert (
        compare(
            found,
            (Column("b", "int64"), Column("a", "float64")),
            found_where="A",
            declared_where="B",
        )
        == []
    )
    assert compare((), (Column("a", "double"),), found_where="A", declared_where="B") == [
        "B[0] declares 'a', which A does not have (it has nothing)"
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["MLmodel", "model.pkl"], "mlflow"),
        (["sub/model.onnx"], "onnx"),
        (["a.safetensors", "b.safetensors", "config.json"], "safetensors"),
        (["model.PKL"], "pickle"),
        (["model.pickle"], "pickle"),
        (["model.joblib"], "joblib"),
        (["model.onnx", "model.pkl"], None),
        (["weights.bin"], None),
    ],
)
def test_infer_the_format_of_a_directory(
    tmp_path: Path, files: list[str], expected: str | None
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")

    assert infer_format(tmp_path) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("MLmodel", "mlflow"), ("m.onnx", "onnx"), ("m.safetensors", "safetensors"), ("m.gguf", None)],
)
def test_infer_the_format_of_a_file(tmp_path: Path, name: str, expected: str | None) -> None:
    (tmp_path / name).write_bytes(b"x")

    assert infer_format(tmp_path / name) == expected
