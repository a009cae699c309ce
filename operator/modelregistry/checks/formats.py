"""The `format` check: the artifact holds what its declared format needs.

- mlflow: MLmodel parses, its flavors are known, every file it names exists,
  an environment file is present, a pickled scikit-learn model is a whole
  pickle stream (walked with pickletools, never loaded), and the signature is
  present when required and agrees with spec.signature.
- onnx: the model passes onnx.checker; its graph inputs/outputs agree with
  spec.signature.
- safetensors: the header parses and every tensor's offsets fit the data.
- pickle: a whole pickle stream (or a skops archive), and the modules it
  would import; joblib: a pickle or compressed joblib header. Nothing is
  unpickled: that runs the artifact's code.
- any other format: no structural check (the report says so).
"""

from __future__ import annotations

import _compat_pickle
import json
import pickletools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelregistry.checks.common import (
    ENVIRONMENT_FILES,
    MLMODEL,
    ArtifactProblem,
    import_optional,
    mlflow_root,
    named_file,
    read_mlmodel,
    single_file,
)
from modelregistry.checks.report import Report
from modelregistry.checks.signature import (
    Column,
    ModelSignature,
    SignatureError,
    compare,
    parse_mlflow_signature,
)

CHECK = "format"

# MLflow's built-in flavors (mlflow.<flavor>), as they appear under MLmodel flavors.
KNOWN_FLAVORS = frozenset(
    {
        "python_function",
        "sklearn",
        "onnx",
        "pytorch",
        "tensorflow",
        "keras",
        "xgboost",
        "lightgbm",
        "catboost",
        "statsmodels",
        "h2o",
        "spark",
        "mleap",
        "transformers",
        "sentence_transformers",
        "spacy",
        "fastai",
        "paddle",
        "prophet",
        "pmdarima",
        "diviner",
        "gluon",
        "johnsnowlabs",
        "langchain",
        "llama_index",
        "openai",
        "promptflow",
        "dspy",
        "pyfunc",
    }
)
# Flavor keys whose value is a path inside the model directory.
PATH_KEYS = ("model_path", "pickled_model", "data", "model_data", "saved_model_dir", "code")
# The first bytes of a joblib file compressed with each of its compressors.
JOBLIB_MAGIC = (
    b"ZF",
    b"\x78",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
)
SAFETENSORS_MAX_HEADER = 100_000_000
# Bits per element of each safetensors dtype.
SAFETENSORS_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "C64": 64,
}


def check_format(
    artifact: Path,
    fmt: str,
    *,
    declared: ModelSignature | None = None,
    require_signature: bool = False,
) -> Report:
    """Run the format check of `fmt` on a local file or directory."""
    try:
        if fmt == "mlflow":
            return _mlflow(artifact, declared, require_signature)
        if fmt == "onnx":
            return _onnx(artifact, declared, require_signature)
        if fmt == "safetensors":
            details = _safetensors(artifact)
        elif fmt in ("pickle", "joblib"):
            details = _pickle(artifact, fmt)
        else:
            return Report(
                CHECK,
                True,
                fmt,
                message=f"format {fmt} has no built-in structural check; nothing was checked",
                details={"checked": False},
            )
        if require_signature and (declared is None or not declared.inputs):
            raise ArtifactProblem(
                f"a {fmt} artifact carries no signature of its own and spec.signature declares "
                f"no inputs, but the Model's policy requires a signature: declare "
                f"spec.signature.inputs"
            )
        return Report(
            CHECK, True, fmt, message=f"the artifact is a well-formed {fmt} model", details=details
        )
    except ArtifactProblem as problem:
        return Report(CHECK, False, fmt, message=str(problem))


def _failed(fmt: str, problems: list[str], details: dict[str, Any]) -> Report:
    if len(problems) == 1:
        return Report(CHECK, False, fmt, message=problems[0], details=details)
    message = f"{problems[0]} (and {len(problems) - 1} more: see details.problems)"
    return Report(CHECK, False, fmt, message=message, details={**details, "problems": problems})


# ---------------------------------------------------------------- MLflow


def _mlflow(artifact: Path, declared: ModelSignature | None, require_signature: bool) -> Report:
    root = mlflow_root(artifact)
    mlmodel = read_mlmodel(root)
    flavors = mlmodel.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise ArtifactProblem(f"{MLMODEL} has no flavors: it must name at least one flavor")
    problems: list[str] = []
    unknown = sorted(str(f) for f in flavors if f not in KNOWN_FLAVORS)
    if unknown:
        problems.append(
            f"{MLMODEL} flavors {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} "
            f"not known MLflow flavors: use a built-in flavor (python_function, sklearn, onnx, "
            f"...)"
        )
    named: list[str] = []
    for flavor, config in flavors.items():
        if not isinstance(config, dict):
            problems.append(f"{MLMODEL} flavors.{flavor} must be a mapping")
            continue
        for key, name in _named_paths(config):
            where = f"flavors.{flavor}.{key}"
            try:
                path = named_file(root, name, where)
            except ArtifactProblem as missing:
                problems.append(str(missing))
                continue
            named.append(str(name))
            broken = None
            if flavor == "sklearn" and key == "pickled_model":
                broken = _sklearn_file_problem(path, config)
            elif flavor == "onnx" and key == "data":
                broken = _onnx_problem(path)
            if broken:
                problems.append(f"{MLMODEL} names {name} ({where}), which {broken}")
    example = mlmodel.get("saved_input_example_info")
    if isinstance(example, dict) and example.get("artifact_path") is not None:
        try:
            named_file(root, example["artifact_path"], "saved_input_example_info.artifact_path")
            named.append(str(example["artifact_path"]))
        except ArtifactProblem as problem:
            problems.append(str(problem))
    environment = [name for name in ENVIRONMENT_FILES if (root / name).is_file()]
    if not environment:
        problems.append(
            f"the artifact has no environment file ({' / '.join(ENVIRONMENT_FILES)}) next to "
            f"{MLMODEL}: save the model with its environment so it can be served"
        )
    signature: ModelSignature | None = None
    try:
        signature = parse_mlflow_signature(mlmodel)
    except SignatureError as error:
        problems.append(str(error))
    else:
        if signature is None and require_signature:
            problems.append(
                f"{MLMODEL} has no signature (a model without a schema), and the Model's policy "
                f"requires one: log the model with signature=infer_signature(X, y)"
            )
        if signature is not None and declared is not None:
            problems.extend(_agreement(signature, declared, f"the {MLMODEL} signature"))
    details: dict[str, Any] = {
        "flavors": sorted(str(f) for f in flavors),
        "files": sorted(set(named)),
        "environment": environment,
        "signature": signature is not None,
    }
    if problems:
        return _failed("mlflow", problems, details)
    return Report(
        CHECK,
        True,
        "mlflow",
        message=f"{MLMODEL} is valid and names only files the artifact holds",
        details=details,
    )


def _named_paths(config: dict[str, Any]) -> Iterator[tuple[str, object]]:
    for key in PATH_KEYS:
        if config.get(key) is not None:
            yield key, config[key]
    env = config.get("env")
    if isinstance(env, str):
        yield "env", env
    elif isinstance(env, dict):
        for kind, name in env.items():
            yield f"env.{kind}", name


def _sklearn_file_problem(path: Path, config: dict[str, Any]) -> str | None:
    serialization = config.get("serialization_format", "cloudpickle")
    if serialization == "skops":
        return _skops_problem(path)
    if serialization in ("pickle", "cloudpickle"):
        return _pickle_problem(path)
    return None


def _agreement(found: ModelSignature, declared: ModelSignature, where: str) -> list[str]:
    problems = compare(
        found.inputs,
        declared.inputs,
        found_where=f"{where}'s inputs",
        declared_where="spec.signature.inputs",
    )
    if found.outputs:
        problems += compare(
            found.outputs,
            declared.outputs,
            found_where=f"{where}'s outputs",
            declared_where="spec.signature.outputs",
        )
    return [f"{p}: make the artifact and spec.signature agree" for p in problems]


# ---------------------------------------------------------------- ONNX


def _onnx(artifact: Path, declared: ModelSignature | None, require_signature: bool) -> Report:
    path = single_file(artifact, (".onnx",), "ONNX")
    name = path.name if path == artifact else path.relative_to(artifact).as_posix()
    problem = _onnx_problem(path)
    if problem:
        raise ArtifactProblem(f"{name} {problem}")
    signature = onnx_signature(path)
    problems = []
    if require_signature and not signature.inputs:
        problems.append(f"{name} has no graph inputs, and the Model's policy requires a signature")
    if declared is not None:
        problems += _agreement(signature, declared, f"the ONNX graph of {name}")
    details = {
        "file": name,
        "inputs": [c.describe() for c in signature.inputs],
        "outputs": [c.describe() for c in signature.outputs],
    }
    if problems:
        return _failed("onnx", problems, details)
    return Report(CHECK, True, "onnx", message=f"{name} passes onnx.checker", details=details)


def _onnx_problem(path: Path) -> str | None:
    onnx = import_optional("onnx", "onnx", "format")
    try:
        # A path (not a loaded model) lets the checker read external data and >2 GiB models.
        onnx.checker.check_model(str(path))
    except Exception as error:  # the checker raises protobuf, ONNX and OS errors alike
        return f"does not pass onnx.checker ({_first_line(error)})"
    return None


def onnx_signature(path: Path) -> ModelSignature:
    """The graph's inputs (less initializers) and outputs, as Columns."""
    onnx = import_optional("onnx", "onnx", "format")
    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}

    def column(value: Any) -> Column:
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            return Column(name=value.name, dtype=str(kind))
        tensor = value.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        shape = None
        if tensor.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
        return Column(name=value.name, dtype=dtype, shape=shape)

    return ModelSignature(
        inputs=tuple(column(v) for v in model.graph.input if v.name not in initializers),
        outputs=tuple(column(v) for v in model.graph.output),
    )


# ---------------------------------------------------------------- safetensors


def _safetensors(artifact: Path) -> dict[str, Any]:
    if artifact.is_file():
        files = [artifact]
    else:
        files = sorted(p for p in artifact.rglob("*.safetensors") if p.is_file())
        if not files:
            raise ArtifactProblem("the artifact directory holds no .safetensors file")
    tensors = 0
    for path in files:
        name = path.name if path == artifact else path.relative_to(artifact).as_posix()
        tensors += _safetensors_file(path, name)
    return {"files": len(files), "tensors": tensors}


def _safetensors_file(path: Path, name: str) -> int:
    size = path.stat().st_size
    if size < 8:
        raise ArtifactProblem(
            f"{name} is {size} bytes, shorter than the 8-byte header length of a safetensors file"
        )
    with path.open("rb") as stream:
        length = int.from_bytes(stream.read(8), "little")
        if length > size - 8:
            raise ArtifactProblem(
                f"{name}: the header length in its first 8 bytes ({length}) runs past the end "
                f"of the file ({size} bytes): the file is truncated or not safetensors"
            )
        if length > SAFETENSORS_MAX_HEADER:
            raise ArtifactProblem(
                f"{name}: the header is {length} bytes, over the {SAFETENSORS_MAX_HEADER} "
                f"bytes safetensors allows"
            )
        raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactProblem(f"{name}: the header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise ArtifactProblem(f"{name}: the header must be a JSON object of tensors")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ArtifactProblem(f"{name}: __metadata__ must map strings to strings")
    data_size = size - 8 - length
    spans = []
    for tensor, entry in header.items():
        begin, end = _tensor_span(name, tensor, entry, data_size)
        spans.append((begin, end, tensor))
    covered, previous = 0, ""
    for begin, end, tensor in sorted(spans):
        if begin < covered:
            raise ArtifactProblem(f"{name}: tensors {previous!r} and {tensor!r} overlap")
        if begin > covered:
            raise ArtifactProblem(
                f"{name}: bytes {covered}..{begin} of the data belong to no tensor "
                f"(before {tensor!r})"
            )
        covered, previous = end, tensor
    if covered != data_size:
        raise ArtifactProblem(
            f"{name}: the tensors cover {covered} bytes of data but the file holds {data_size}"
        )
    return len(spans)


def _tensor_span(name: str, tensor: str, entry: object, data_size: int) -> tuple[int, int]:
    where = f"{name}: tensor {tensor!r}"
    if not isinstance(entry, dict):
        raise ArtifactProblem(f"{where} must be an object with dtype, shape and data_offsets")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in SAFETENSORS_BITS:
        raise ArtifactProblem(f"{where} has an unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise ArtifactProblem(f"{where} has a shape that is not a list of sizes: {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)):
        raise ArtifactProblem(f"{where} has data_offsets that are not [begin, end]: {offsets!r}")
    begin, end = offsets
    if begin > end:
        raise ArtifactProblem(f"{where} begins at byte {begin}, after its end {end}")
    if end > data_size:
        raise ArtifactProblem(
            f"{where} ends at byte {end} of the data, past its end ({data_size} bytes): the file "
            f"is truncated or its header is wrong"
        )
    elements = 1
    for dimension in shape:
        elements *= dimension
    needed = (elements * SAFETENSORS_BITS[dtype] + 7) // 8
    if end - begin != needed:
        raise ArtifactProblem(
            f"{where} spans {end - begin} bytes, but dtype {dtype} and shape {shape} need {needed}"
        )
    return begin, end


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ---------------------------------------------------------------- pickle, joblib, skops


def _pickle(artifact: Path, fmt: str) -> dict[str, Any]:
    suffixes = (".joblib", ".pkl") if fmt == "joblib" else (".pkl", ".pickle", ".skops")
    path = single_file(artifact, suffixes, fmt)
    name = path.name if path == artifact else path.relative_to(artifact).as_posix()
    if zipfile.is_zipfile(path):
        problem = _skops_problem(path)
        if problem:
            raise ArtifactProblem(f"{name} {problem}")
        return {"file": name, "serialization": "skops"}
    if fmt == "joblib":
        with path.open("rb") as stream:
            head = stream.read(8)
        if not head.startswith(b"\x80") and not any(head.startswith(m) for m in JOBLIB_MAGIC):
            raise ArtifactProblem(
                f"{name} starts with neither a pickle header nor a joblib compression header: "
                f"it is not a joblib file"
            )
        return {"file": name, "serialization": "joblib"}
    problem = _pickle_problem(path)
    if problem:
        raise ArtifactProblem(f"{name} {problem}")
    return {"file": name, "serialization": "pickle", "modules": pickle_modules(path)}


def _pickle_problem(path: Path) -> str | None:
    """Why `path` is not one whole pickle stream, or None. Walks opcodes; loads nothing."""
    try:
        with path.open("rb") as stream:
            for _ in pickletools.genops(stream):
                pass
    except Exception as error:  # genops raises ValueError, EOFError, struct.error, ...
        return (
            f"is not a valid pickle stream ({_first_line(error)}): the file is corrupt or "
            f"truncated; save the model again"
        )
    return None


# Opcodes that push a string (the operands of GLOBAL-by-stack), and those that
# leave the stack as it is (so they do not separate a string from STACK_GLOBAL).
_STRING_OPS = frozenset(
    {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "SHORT_BINSTRING",
        "BINSTRING",
        "STRING",
    }
)
_MEMO_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_MEMO_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_NEUTRAL_OPS = frozenset({"MEMOIZE", "FRAME", "PROTO", *_MEMO_PUT_OPS})
MAX_MODULES = 32


def pickle_modules(path: Path) -> list[str]:
    """Top-level modules a pickle imports when loaded (read from its opcodes, not loaded).

    Auditors read this in details.modules: a model that imports `os` or
    `subprocess` is not just a model.
    """
    modules: set[str] = set()
    memo: dict[int, str | None] = {}
    recent: list[str | None] = [None, None]
    protocol = 0
    with path.open("rb") as stream:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name == "PROTO" and isinstance(arg, int):
                protocol = arg
            elif name == "GLOBAL" and isinstance(arg, str):
                module, _, qualname = arg.partition(" ")
                modules.add(_loaded_module(module, qualname, protocol))
            elif name == "STACK_GLOBAL" and recent[0] is not None:
                modules.add(_loaded_module(recent[0], recent[1] or "", protocol))
            if name == "MEMOIZE":
                memo[len(memo)] = recent[1]
            elif name in _MEMO_PUT_OPS and isinstance(arg, int):
                memo[arg] = recent[1]
            if name in _NEUTRAL_OPS:
                continue
            if name in _STRING_OPS:
                pushed = arg if isinstance(arg, str) else None
            elif name in _MEMO_GET_OPS and isinstance(arg, int):
                pushed = memo.get(arg)
            else:
                pushed = None
            recent = [recent[1], pushed]
    return sorted(modules)[:MAX_MODULES]


def _loaded_module(module: str, qualname: str, protocol: int) -> str:
    """The top-level module find_class imports (Python 2 names mapped below protocol 3)."""
    if protocol < 3:
        if (module, qualname) in _compat_pickle.NAME_MAPPING:
            module = _compat_pickle.NAME_MAPPING[(module, qualname)][0]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return module.split(".", 1)[0]


def _skops_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            if "schema.json" not in archive.namelist():
                return "is a zip archive without schema.json, so not a skops file"
            broken = archive.testzip()
    except zipfile.BadZipFile as error:
        return f"is not a valid skops (zip) archive ({error})"
    if broken is not None:
        return f"is a skops archive whose member {broken} is corrupt"
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
