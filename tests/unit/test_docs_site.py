"""The documentation site builds with every internal link and anchor found, and its generated
and copied pages are current."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelregistry import apidocs, crdgen

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "mkdocs.yml").is_file():
    pytest.skip(
        "the docs site is not in this copy (e.g. the mutation-testing one)",
        allow_module_level=True,
    )
WALKTHROUGH = re.compile(r"<!-- walkthrough -->(.*?)<!-- /walkthrough -->", re.S)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """Strict: a link to a missing page or anchor, or a page left out of the nav, fails."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "reference" / "modelversion" / "index.html").is_file()


def test_the_quickstart_is_the_readme_walkthrough_word_for_word() -> None:
    """The walkthrough test runs the README's block against `make run`; so this one runs too."""
    readme = WALKTHROUGH.search((ROOT / "README.md").read_text())
    quickstart = WALKTHROUGH.search((ROOT / "docs" / "quickstart.md").read_text())
    assert readme and quickstart
    assert quickstart.group(1) == readme.group(1)


def test_the_api_reference_is_rendered_from_the_api_types() -> None:
    for kind in crdgen.KINDS:
        page = ROOT / "docs" / "reference" / apidocs.filename(kind)
        assert page.read_text() == apidocs.render(kind), "stale: run `make crds`"


def test_the_reference_lists_every_field_with_its_rules() -> None:
    page = apidocs.render(crdgen.MODELVERSION)

    assert "| `spec.artifact.uri` | string | yes |" in page
    assert "| `status.approvals[].user` | string | yes |" in page
    assert (
        "*Refused at apply: spec.artifact is immutable after creation; create a new "
        "ModelVersion instead.*" in page
    )
