"""The API client's token: read in a thread when it may be refreshed, kept between reads."""

from __future__ import annotations

import asyncio
import threading
import time

import kubernetes

from modelregistry.cluster import AUTH_REFRESH, Cluster, auth_headers


def configuration(token: str) -> kubernetes.client.Configuration:
    config = kubernetes.client.Configuration(host="https://127.0.0.1:6443")
    config.api_key = {"BearerToken": token}
    return config


def test_static_credentials_are_read_once() -> None:
    config = configuration("Bearer static")
    cluster = Cluster(config)
    config.api_key = {"BearerToken": "Bearer changed"}  # no hook: nobody changes it

    headers = asyncio.run(cluster._auth_headers())

    assert headers == {"Authorization": "Bearer static"}


def test_client_certificates_send_no_authorization_header() -> None:
    assert auth_headers(kubernetes.client.Configuration(host="https://127.0.0.1:6443")) == {}


def test_a_refreshing_token_is_read_in_a_thread_and_kept_between_reads() -> None:
    config = configuration("Bearer old")
    cluster = Cluster(config)
    runs: list[int] = []  # the threads the plugin ran in

    def exec_plugin(c: kubernetes.client.Configuration) -> None:
        """As a kubeconfig `exec` plugin would: slow, and a new token."""
        runs.append(threading.get_ident())
        time.sleep(0.05)
        c.api_key = {"BearerToken": f"Bearer new-{len(runs)}"}

    config.refresh_api_key_hook = exec_plugin  # type: ignore[assignment]

    async def scenario() -> None:
        # Still fresh: what was read at start-up, no refresh.
        assert await cluster._auth_headers() == {"Authorization": "Bearer old"}
        assert runs == []

        cluster._auth_read_at -= AUTH_REFRESH  # time passes
        first, second = await asyncio.gather(cluster._auth_headers(), cluster._auth_headers())
        assert first == second == {"Authorization": "Bearer new-1"}
        assert len(runs) == 1  # two callers, one refresh
        assert runs[0] != threading.get_ident()  # not on the event loop's thread
        assert await cluster._auth_headers() == {"Authorization": "Bearer new-1"}
        assert len(runs) == 1

    asyncio.run(scenario())
