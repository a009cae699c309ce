"""`modelregistry.client` and `modelregistry.api` import their names when first used.

An init container's `modelregistry fetch` pays for every module it imports
at each start; these keep it from importing the catalog, registering,
signing and every pydantic model, and keep the packages' names whole.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("modelregistry.client", "modelregistry.api")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_to_its_home(package: str) -> None:
    module = importlib.import_module(package)
    homes = module._HOMES
    assert sorted(homes) == sorted(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is getattr(importlib.import_module(homes[name]), name)


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match=rf"module '{package}' has no attribute 'nothing'"):
        module.nothing  # noqa: B018


def test_from_import_works_for_names_not_yet_imported() -> None:
    code = (
        "from modelregistry.client import register_model, Refused\n"
        "from modelregistry.api import ModelVersionSpec\n"
        "print(register_model.__module__, Refused.__module__, ModelVersionSpec.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [
        "modelregistry.client.register",
        "modelregistry.client.errors",
        "modelregistry.api.modelversion",
    ]


def test_the_fetch_command_imports_neither_registering_nor_the_api_models() -> None:
    code = (
        "import sys\n"
        "import modelregistry.cli, modelregistry.servingfetch\n"
        "heavy = ['modelregistry.client.register', 'modelregistry.client.catalog',\n"
        "         'modelregistry.client.signing', 'modelregistry.api.modelversion',\n"
        "         'modelregistry.api.model', 'modelregistry.crdgen']\n"
        "print(' '.join(m for m in heavy if m in sys.modules) or 'none')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "none"
