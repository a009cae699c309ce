"""A connection to the API server as the caller, in one namespace."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from modelregistry.api.meta import GROUP, MODELVERSIONS, VERSION
from modelregistry.client.errors import Refused, RegistryError

Body = dict[str, Any]


@dataclass(frozen=True)
class Session:
    """An API client for the caller, and the namespace to work in."""

    api: kubernetes.client.ApiClient
    namespace: str

    @classmethod
    def connect(
        cls,
        namespace: str | None = None,
        *,
        as_user: str | None = None,
        as_groups: Sequence[str] = (),
    ) -> Session:
        """Connect with KUBECONFIG (else the in-cluster ServiceAccount).

        `namespace` defaults to the kubeconfig context's, else `default`.
        """
        try:
            kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            try:
                kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
            except kubernetes.config.ConfigException:
                raise RegistryError(
                    "no cluster to talk to: set KUBECONFIG (or run inside a Pod with a "
                    "ServiceAccount)"
                ) from None
        api = kubernetes.client.ApiClient()
        if as_user is not None:
            api.set_default_header("Impersonate-User", as_user)  # type: ignore[no-untyped-call]
        for group in as_groups:  # the client keeps one value per header: one group
            api.set_default_header("Impersonate-Group", group)  # type: ignore[no-untyped-call]
        if namespace is None:
            try:
                _, context = kubernetes.config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
                namespace = context.get("context", {}).get("namespace") or "default"
            except kubernetes.config.ConfigException:
                namespace = "default"
        return cls(api, namespace)

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    def get(self, plural: str, name: str) -> Body:
        try:
            return cast(
                Body,
                self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, name
                ),
            )
        except ApiException as error:
            if error.status == 404:
                kind = "ModelVersion" if plural == MODELVERSIONS else "Model"
                raise RegistryError(
                    f"{kind} {name!r} does not exist in namespace {self.namespace!r}"
                ) from None
            raise Refused(said(error)) from None

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)
        except ApiException as error:
            if error.status == 404:
                return False
            raise Refused(said(error)) from None
        return True

    def create(self, plural: str, body: Body) -> Body:
        try:
            return cast(
                Body,
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, body
                ),
            )
        except ApiException as error:
            raise Refused(said(error)) from None

    def list_objects(self, plural: str, field_selector: str | None = None) -> list[Body]:
        try:
            if field_selector:
                listing = self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, field_selector=field_selector
                )
            else:
                listing = self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural
                )
        except ApiException as error:
            raise Refused(said(error)) from None
        return list(cast(Body, listing)["items"])

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
        """One page of a LIST, as the API server sent it (JSON): what it weighs is known."""
        options: dict[str, Any] = {
            "label_selector": label_selector,
            "field_selector": field_selector,
            "limit": limit,
            "_continue": continue_token,
        }
        options = {k: v for k, v in options.items() if v}
        response: Any  # urllib3's response: the body unparsed
        try:
            if all_namespaces:
                response = self.custom.list_cluster_custom_object(
                    GROUP, VERSION, plural, _preload_content=False, **options
                )
            else:
                response = self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, _preload_content=False, **options
                )
        except ApiException as error:
            raise Refused(said(error), error.status) from None
        return bytes(response.data)

    def whoami(self) -> tuple[str, list[str]]:
        review = kubernetes.client.AuthenticationV1Api(self.api).create_self_subject_review(
            cast(Any, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        )
        info = review.to_dict().get("status", {}).get("user_info", {}) or {}
        return str(info.get("username") or ""), list(info.get("groups") or [])


def said(error: ApiException) -> str:
    """The API server's message (an admission policy's denial reads as it wrote it)."""
    try:
        return str(json.loads(str(error.body))["message"])
    except (TypeError, ValueError, KeyError):
        return f"{error.status} {error.reason}"
