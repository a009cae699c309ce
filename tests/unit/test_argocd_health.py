"""The Argo CD health checks in gitops/argocd, run by a real Lua 5.1 interpreter.

Argo CD runs a health check from `argocd-cm` in gopher-lua (Lua 5.1) with
only the base, table and a safe os library loaded, `obj` set to the live
object (JSON nulls left out, lists 1-based). The driver here gives Debian's
`lua5.1` the same: the object as a Lua table literal and the same few
libraries, so a script that works here works there, and one that reaches
for `string` fails here as it would in Argo CD. Each kind's
`health_test.yaml` is Argo CD's own test format, over testdata the
integration suite captured from live objects (tests/integration/
test_gitops_health.py).
"""

from __future__ import annotations

import copy
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
CUSTOMIZATIONS = REPO / "gitops" / "argocd" / "resource_customizations" / "modelregistry.io"
KINDS = ("ModelVersion", "Model")
LUA = shutil.which("lua5.1")
if not CUSTOMIZATIONS.is_dir():
    pytest.skip(
        "gitops/ is not in this copy (e.g. the mutation-testing one)", allow_module_level=True
    )
HEALTH_STATUSES = ("Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown")

needs_lua = pytest.mark.skipif(
    LUA is None, reason="lua5.1 is not installed (apt-get install -y lua5.1; CI installs it)"
)


# --- an object as Lua sees it --------------------------------------------------------


def lua_string(text: str) -> str:
    """A Lua 5.1 string literal with exactly the UTF-8 bytes of `text`.

    Anything but printable ASCII is a three-digit decimal escape: `\\1`
    followed by a digit would read as another byte.
    """
    out = []
    for byte in text.encode():
        if 0x20 <= byte < 0x7F and byte not in (0x22, 0x5C):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_literal(value: Any) -> str:
    """A JSON value as a Lua table literal, as Argo CD hands it to a script.

    Nulls are left out (Argo CD's decoding sets nil, which a table cannot
    hold), also from lists, whose remaining items keep their order from 1.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(item) for item in value if item is not None) + "}"
    if isinstance(value, dict):
        fields = (
            f"[{lua_string(key)}] = {lua_literal(item)}"
            for key, item in value.items()
            if item is not None
        )
        return "{" + ", ".join(fields) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value: {value!r}")


# What Argo CD loads for a script from argocd-cm (util/lua: base, table, a safe
# os); the string library is not among them, nor are strings' methods.
_SANDBOX = """
local write, stderr = io.write, io.stderr
local script = assert(loadfile({path}))
local env = {{}}
for _, name in ipairs({{"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawset", "select", "getmetatable", "setmetatable", "tonumber", "tostring",
    "type", "unpack", "xpcall", "_VERSION"}}) do
  env[name] = _G[name]
end
env.table = table
env.os = {{time = os.time, date = os.date}}
env._G = env
env.obj = {obj}
setfenv(script, env)
local strings = getmetatable("")
local methods = strings.__index
strings.__index = nil
local ok, hs = pcall(script)
strings.__index = methods
if not ok then
  stderr:write(tostring(hs))
  os.exit(2)
end
if type(hs) ~= "table" or type(hs.status) ~= "string" or type(hs.message) ~= "string" then
  stderr:write("the script returned no table with a status and a message")
  os.exit(3)
end
write(hs.status, "\\n", hs.message)
"""


@dataclass(frozen=True)
class Health:
    status: str
    message: str


class LuaError(AssertionError):
    """The script failed, or returned something Argo CD would not take."""


def run_lua(script: Path, obj: dict[str, Any]) -> Health:
    """What `script` says about `obj`, run as Argo CD runs it."""
    assert LUA is not None, "lua5.1 is not installed"
    driver = _SANDBOX.format(path=lua_string(str(script)), obj=lua_literal(obj))
    done = subprocess.run(
        [LUA, "-"], input=driver.encode(), capture_output=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise LuaError(f"{script.name} failed: {done.stderr.decode(errors='replace')}")
    status, _, message = done.stdout.decode().partition("\n")
    return Health(status, message)


def health_of(obj: dict[str, Any]) -> Health:
    """The health Argo CD would show for a Model or ModelVersion."""
    return run_lua(CUSTOMIZATIONS / obj["kind"] / "health.lua", obj)


# --- testdata as Argo CD reads it ----------------------------------------------------


class _JsonLikeLoader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it for Argo CD: a timestamp stays a string."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_JsonLikeLoader)  # noqa: S506 - a SafeLoader


def dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, allow_unicode=True, width=100)


@dataclass(frozen=True)
class Expectation:
    kind: str
    input_path: str
    health: Health

    @property
    def path(self) -> Path:
        return CUSTOMIZATIONS / self.kind / self.input_path


def expectations(kind: str) -> list[Expectation]:
    """The tests of a kind's health_test.yaml, in Argo CD's format."""
    document = load_yaml(CUSTOMIZATIONS / kind / "health_test.yaml")
    return [
        Expectation(
            kind,
            test["inputPath"],
            Health(test["healthStatus"]["status"], test["healthStatus"]["message"]),
        )
        for test in document["tests"]
    ]


def expectation_for(kind: str, input_path: str) -> Expectation | None:
    return next((e for e in expectations(kind) if e.input_path == input_path), None)


ALL_EXPECTATIONS = [e for kind in KINDS for e in expectations(kind)]


# --- the tests ----------------------------------------------------------------------


@needs_lua
@pytest.mark.parametrize(
    "expected", ALL_EXPECTATIONS, ids=[f"{e.kind}/{e.input_path}" for e in ALL_EXPECTATIONS]
)
def test_health_test_yaml_holds_on_the_captured_objects(expected: Expectation) -> None:
    obj = cast(dict[str, Any], load_yaml(expected.path))
    assert obj["kind"] == expected.kind
    assert health_of(obj) == expected.health


@pytest.mark.parametrize("kind", KINDS)
def test_every_testdata_file_is_tested_and_every_test_has_its_file(kind: str) -> None:
    tested = {e.input_path for e in expectations(kind)}
    present = {f"testdata/{p.name}" for p in (CUSTOMIZATIONS / kind / "testdata").glob("*.yaml")}
    assert tested == present
    assert all(e.health.status in HEALTH_STATUSES for e in expectations(kind))


@pytest.mark.parametrize(
    ("kind", "statuses"),
    [
        ("ModelVersion", {"Healthy", "Progressing", "Degraded", "Suspended"}),
        ("Model", {"Healthy", "Progressing", "Degraded"}),
    ],
)
def test_the_testdata_covers_every_state_a_kind_can_be_in(kind: str, statuses: set[str]) -> None:
    assert {e.health.status for e in expectations(kind)} == statuses


@pytest.mark.parametrize("kind", KINDS)
def test_the_testdata_is_of_live_objects_with_volatile_fields_normalised(kind: str) -> None:
    for path in sorted((CUSTOMIZATIONS / kind / "testdata").glob("*.yaml")):
        obj = load_yaml(path)
        metadata = obj["metadata"]
        assert obj["apiVersion"] == "modelregistry.io/v1alpha1", path.name
        assert metadata["generation"] >= 1, path.name
        for volatile in ("uid", "resourceVersion", "managedFields", "creationTimestamp"):
            assert volatile not in metadata, f"{path.name}: metadata.{volatile}"
        # Captured files are written sorted and stable: a new capture is a clean diff.
        assert path.read_text() == dump_yaml(obj), f"{path.name} is not as the capture writes it"


@needs_lua
@pytest.mark.parametrize("kind", KINDS)
def test_a_condition_of_an_older_generation_is_progressing(kind: str) -> None:
    """status.observedGeneration current, one condition not: that condition is not believed."""
    healthy = next(e for e in expectations(kind) if e.health.status == "Healthy")
    obj = copy.deepcopy(load_yaml(healthy.path))
    generation = obj["metadata"]["generation"] + 1
    obj["metadata"]["generation"] = generation
    obj["status"]["observedGeneration"] = generation
    for condition in obj["status"]["conditions"]:
        condition["observedGeneration"] = generation
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    ready["observedGeneration"] = generation - 1

    assert health_of(obj) == Health(
        "Progressing",
        f"Waiting for the operator to observe generation {generation} "
        f"(Ready is of generation {generation - 1}).",
    )


@needs_lua
@pytest.mark.parametrize("kind", KINDS)
def test_a_status_without_observed_generation_is_progressing(kind: str) -> None:
    healthy = next(e for e in expectations(kind) if e.health.status == "Healthy")
    obj = copy.deepcopy(load_yaml(healthy.path))
    del obj["status"]["observedGeneration"]
    assert health_of(obj).status == "Progressing"


@needs_lua
def test_ready_unknown_without_reconciling_is_progressing_and_ready_false_degraded() -> None:
    healthy = next(e for e in expectations("ModelVersion") if e.health.status == "Healthy")
    obj = copy.deepcopy(load_yaml(healthy.path))
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    ready.update(status="Unknown", reason="Progressing", message="Working on it.")
    assert health_of(obj) == Health("Progressing", "Working on it.")
    ready.update(status="False", reason="InvalidSpec", message="Broken.")
    assert health_of(obj) == Health("Degraded", "Broken.")


@needs_lua
def test_a_healthy_version_names_a_stage_it_waits_for_that_needs_no_person() -> None:
    """StageGranted False for another reason (here ProductionHeld) is informational."""
    healthy = next(e for e in expectations("ModelVersion") if e.health.status == "Healthy")
    obj = copy.deepcopy(load_yaml(healthy.path))
    granted = next(c for c in obj["status"]["conditions"] if c["type"] == "StageGranted")
    granted.update(status="False", reason="ProductionHeld", message="churn-1 holds Production.")
    health = health_of(obj)
    assert health.status == "Healthy"
    assert health.message.endswith(" churn-1 holds Production.")


@needs_lua
def test_the_sandbox_refuses_the_string_library_as_argo_cd_does(tmp_path: Path) -> None:
    script = tmp_path / "health.lua"
    for body in (
        'return {status = string.upper("healthy"), message = ""}',
        'local s = "x"; return {status = s:upper(), message = ""}',
    ):
        script.write_text(body)
        with pytest.raises(LuaError):
            run_lua(script, {"kind": "Model"})
    script.write_text('return {status = "Healthy", message = table.concat({"a", "b"}, "-")}')
    assert run_lua(script, {"kind": "Model"}) == Health("Healthy", "a-b")


@needs_lua
@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_any_string_reaches_lua_byte_for_byte(text: str) -> None:
    assert LUA is not None
    driver = f"io.write({lua_string(text)})"
    done = subprocess.run([LUA, "-"], input=driver.encode(), capture_output=True, check=True)
    assert done.stdout == text.encode()


@needs_lua
def test_a_json_object_becomes_the_table_argo_cd_builds(tmp_path: Path) -> None:
    """Lists from 1, nulls left out (in lists too), numbers, booleans, nesting."""
    script = tmp_path / "health.lua"
    script.write_text(
        """
local checks = {
  #obj.list == 3, obj.list[1] == "a", obj.list[2] == 2, obj.list[3] == false,
  obj.gone == nil, obj.nested.deep[1].x == 1.5, obj.big == 1234567890123,
  obj.neg == -7, obj.small == 1e-05, obj.yes == true, obj["with space"] == "]]",
  next(obj.empty) == nil, obj.quote == '"\\\\', obj.text == "caf\\195\\169",
}
for i = 1, 14 do
  if not checks[i] then return {status = "Degraded", message = tostring(i)} end
end
return {status = "Healthy", message = ""}
"""
    )
    obj = {
        "list": ["a", None, 2, False],
        "gone": None,
        "nested": {"deep": [{"x": 1.5, "y": None}]},
        "big": 1234567890123,
        "neg": -7,
        "small": 1e-05,
        "yes": True,
        "with space": "]]",
        "empty": {},
        "quote": '"\\',
        "text": "café",
    }
    assert run_lua(script, obj) == Health("Healthy", "")


def test_the_literal_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        lua_literal(float("nan"))
    with pytest.raises(TypeError):
        lua_literal({"when": object()})


# --- the argocd-cm snippet in the docs -----------------------------------------------


def argocd_cm_scripts(text: str) -> dict[str, str]:
    """The health scripts of the argocd-cm ConfigMap in docs/gitops.md, by kind."""
    block = re.search(r"```yaml\n(apiVersion: v1\nkind: ConfigMap\n.*?)```", text, re.DOTALL)
    assert block is not None, "docs/gitops.md has no argocd-cm ConfigMap block"
    config = yaml.safe_load(block.group(1))
    assert config["metadata"]["name"] == "argocd-cm"
    prefix = "resource.customizations.health.modelregistry.io_"
    return {
        key.removeprefix(prefix): value
        for key, value in config["data"].items()
        if key.startswith(prefix)
    }


def test_the_argocd_cm_snippet_in_the_docs_is_the_scripts_as_they_are() -> None:
    scripts = argocd_cm_scripts((REPO / "docs" / "gitops.md").read_text())
    assert scripts == {kind: (CUSTOMIZATIONS / kind / "health.lua").read_text() for kind in KINDS}
