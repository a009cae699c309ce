"""The operator's API client goes through a kubeconfig's `proxy-url`, as Kopf's watches do."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import yaml

from modelregistry.cluster import Cluster as ApiClient
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.integration


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), and remembers where to."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, target, _ = (await reader.readline()).decode().split(" ", 2)
        while (await reader.readline()).strip():
            pass  # the request's headers
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def test_calls_go_through_the_kubeconfig_proxy(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]

    async def scenario() -> None:
        proxy = ConnectProxy()
        await proxy.start()
        for entry in config["clusters"]:
            entry["cluster"]["proxy-url"] = proxy.url
        proxied = tmp_path / "kubeconfig"
        proxied.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("KUBECONFIG", str(proxied))
        client = ApiClient.connect()
        try:
            assert await client.get_model("default", "no-such-model") is None
        finally:
            await client.close()
            assert proxy.server is not None
            proxy.server.close()
        assert proxy.tunnels == [server.removeprefix("https://")]

    asyncio.run(scenario())
