"""An in-memory API server as `client.Session` sees it, for the SDK's and the CLI's tests."""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Callable
from typing import Any, cast

from modelregistry import client
from modelregistry.client.errors import Refused, RegistryError

Body = dict[str, Any]


class FakeSession:
    """get / exists / create / list_objects, and a status the test writes as the operator."""

    def __init__(self, namespace: str = "ml", models: tuple[str, ...] = ("churn",)) -> None:
        self.namespace = namespace
        self.objects: dict[tuple[str, str], Body] = {
            ("models", m): {"metadata": {"name": m, "namespace": namespace}, "spec": {}}
            for m in models
        }
        self.refuse: str | None = None
        # Each LIST: plural, all namespaces?, label selector, field selector, limit.
        self.lists: list[tuple[str, bool, str | None, str | None, int | None]] = []
        # Called on each get of a ModelVersion: the operator's turn to write its status.
        self.operator: Callable[[Body], None] | None = None
        self.custom = self

    def as_session(self) -> client.Session:
        return cast(client.Session, self)

    def get(self, plural: str, name: str) -> Body:
        if (plural, name) not in self.objects:
            kind = "ModelVersion" if plural == "modelversions" else "Model"
            raise RegistryError(f"{kind} {name!r} does not exist in namespace {self.namespace!r}")
        body = self.objects[(plural, name)]
        if plural == "modelversions" and self.operator is not None:
            self.operator(body)
        return copy.deepcopy(body)

    def exists(self, plural: str, name: str) -> bool:
        return (plural, name) in self.objects

    def create(self, plural: str, body: Body) -> Body:
        if self.refuse is not None:
            raise Refused(self.refuse)
        created = copy.deepcopy(body)
        metadata = created["metadata"]
        name = metadata.pop("generateName", None)
        metadata["name"] = metadata.get("name") or f"{name}{secrets.token_hex(3)}"
        metadata.update(
            namespace=self.namespace, generation=1, creationTimestamp="2026-01-01T00:00:00Z"
        )
        self.objects[(plural, metadata["name"])] = created
        return copy.deepcopy(created)

    def list_objects(self, plural: str, field_selector: str | None = None) -> list[Body]:
        items = [b for (p, _), b in self.objects.items() if p == plural]
        if field_selector:
            model = field_selector.partition("=")[2]
            items = [b for b in items if b["spec"]["modelRef"]["name"] == model]
        return copy.deepcopy(items)

    def list_page(
        self,
        plural: str,
        *,
        all_namespaces: bool = False,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> bytes:
        """A page as the API server selects it: `a=b` / `a!=b` terms of selectable fields and
        equality label terms, `limit` items from the offset the continue token holds."""
        self.lists.append((plural, all_namespaces, label_selector, field_selector, limit))
        items = [
            b
            for (p, _), b in self.objects.items()
            if p == plural
            and (all_namespaces or b["metadata"].get("namespace", self.namespace) == self.namespace)
            and _selected(b, field_selector, fields=True)
            and _selected(b, label_selector, fields=False)
        ]
        start = int(continue_token or 0)
        end = start + limit if limit else len(items)
        more = str(end) if end < len(items) else ""
        page = {"items": items[start:end], "metadata": {"continue": more}}
        return json.dumps(page).encode()

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, patch: Body
    ) -> Body:
        body = self.objects[(plural, name)]
        body["spec"].update(patch["spec"])
        body["metadata"]["generation"] += 1
        return copy.deepcopy(body)


def operator_says(*conditions: tuple[str, str, str, str]) -> Callable[[Body], None]:
    """An operator that writes these conditions (type, status, reason, message) at once."""

    def write(body: Body) -> None:
        body["status"] = {
            "observedGeneration": body["metadata"]["generation"],
            "version": 1,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions
            ],
        }

    return write


def _selected(body: Body, selector: str | None, *, fields: bool) -> bool:
    for term in re.split(r"(?<!\\),", selector or ""):
        if not term:
            continue
        key, negated, value = re.match(r"^(.*?)(!?)=(.*)$", term).groups()  # type: ignore[union-attr]
        value = value.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")
        if fields:
            node: Any = body
            for step in key.split("."):
                node = node.get(step) if isinstance(node, dict) else None
            actual = "" if node is None else str(node)
        else:
            actual = str((body["metadata"].get("labels") or {}).get(key, ""))
        if (actual == value) == bool(negated):
            return False
    return True
