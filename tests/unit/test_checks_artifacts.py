"""Small model artifacts the check tests build in tmp_path (no MLflow, no downloads).

The MLflow layout is written by hand as `mlflow.sklearn.save_model` writes it:
MLmodel (flavors python_function + sklearn, the signature as JSON strings),
model.pkl, the environment files and input_example.json.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("x", "y", "z")
INPUTS = [{"type": "double", "name": c, "required": True} for c in COLUMNS]
OUTPUTS = [{"type": "long", "required": True}]
ROWS = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def fitted_logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    features = rng.standard_normal((40, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(np.int64)
    return LogisticRegression().fit(features, labels)


def mlmodel_text(
    *,
    inputs: list[dict[str, Any]] | None = INPUTS,
    outputs: list[dict[str, Any]] | None = OUTPUTS,
    pickled_model: str = "model.pkl",
    flavors_extra: str = "",
    example: bool = True,
) -> str:
    lines = [
        "artifact_path: model",
        "flavors:",
        "  python_function:",
        "    env:",
        "      conda: conda.yaml",
        "      virtualenv: python_env.yaml",
        "    loader_module: mlflow.sklearn",
        f"    model_path: {pickled_model}",
        "    predict_fn: predict",
        "    python_version: 3.11.7",
        "  sklearn:",
        "    code: null",
        f"    pickled_model: {pickled_model}",
        "    serialization_format: cloudpickle",
        "    sklearn_version: 1.5.0",
        flavors_extra,
        "mlflow_version: 2.16.0",
        "model_size_bytes: 1000",
        "model_uuid: 0f3c0c4f5b1e4d0f9a0c9b2f1f3e2d1c",
    ]
    if example:
        lines += [
            "saved_input_example_info:",
            "  artifact_path: input_example.json",
            "  pandas_orient: split",
            "  type: dataframe",
        ]
    if inputs is not None:
        lines += [
            "signature:",
            f"  inputs: '{json.dumps(inputs)}'",
            f"  outputs: '{json.dumps(outputs)}'" if outputs is not None else "  outputs: null",
            "  params: null",
        ]
    return "\n".join(line for line in lines if line) + "\n"


def sklearn_mlflow_model(root: Path, **mlmodel: Any) -> Path:
    """An MLflow sklearn model directory holding a fitted LogisticRegression."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLmodel").write_text(mlmodel_text(**mlmodel))
    (root / "model.pkl").write_bytes(pickle.dumps(fitted_logistic_regression()))
    (root / "conda.yaml").write_text("name: mlflow-env\ndependencies:\n- python=3.11.7\n")
    (root / "python_env.yaml").write_text("python: 3.11.7\ndependencies:\n- -r requirements.txt\n")
    (root / "requirements.txt").write_text("mlflow==2.16.0\nscikit-learn==1.5.0\n")
    if mlmodel.get("example", True):
        (root / "input_example.json").write_text(json.dumps({"columns": COLUMNS, "data": ROWS}))
    return root


def onnx_linear_model(path: Path, *, output_dtype: int | None = None) -> Path:
    """Y = X @ W + B, X float32 [batch, 3], Y float32 [batch, 2], made with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper

    weights = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [1, 0, 0, 1, 1, 1])
    bias = helper.make_tensor("B", TensorProto.FLOAT, [2], [0.5, -0.5])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("Y", output_dtype or TensorProto.FLOAT, ["batch", 2])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def safetensors_file(
    path: Path,
    tensors: dict[str, tuple[str, list[int], bytes]],
    *,
    offsets: dict[str, list[int]] | None = None,
) -> Path:
    """8-byte little-endian header length, the JSON header, then the tensors' bytes."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        span = (offsets or {}).get(name, [len(data), len(data) + len(raw)])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": span}
        data += raw
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)
