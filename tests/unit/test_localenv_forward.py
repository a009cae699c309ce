"""How Pods reach loopback servers: the forwarder (on loopback addresses here), API overrides."""

from __future__ import annotations

import contextlib
import errno
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelregistry.localenv import ControlPlane, LocalEnvError, Node
from modelregistry.localenv.forward import Forwarder
from modelregistry.localenv.pki import SERVING_DNS_NAMES


class _Echo(socketserver.BaseRequestHandler):
    """Echoes everything, upper-cased, until the client half-closes; then says bye."""

    def handle(self) -> None:
        received = b""
        while data := self.request.recv(65536):
            received += data
        self.request.sendall(received.upper() + b"|bye")


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(address: tuple[str, int], payload: bytes, source: str = "127.0.0.1") -> bytes:
    """The whole reply; nothing when the connection is closed or reset unanswered."""
    reply = b""
    with socket.create_connection(address, timeout=10, source_address=(source, 0)) as client:
        try:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return reply
        except OSError as error:
            # A refused peer may be closed before the half-close is sent.
            if error.errno != errno.ENOTCONN:
                raise
            return reply
        with contextlib.suppress(ConnectionResetError):
            while data := client.recv(65536):
                reply += data
    return reply


def test_bytes_go_both_ways_and_a_half_close_reaches_the_server(
    echo_port: int, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, more than one read
    with Forwarder("127.0.0.2", echo_port, tmp_path / "forward.log") as forwarder:
        assert forwarder.port != echo_port
        assert forwarder.address == f"127.0.0.2:{forwarder.port}"
        replies = [exchange(("127.0.0.2", forwarder.port), payload) for _ in range(2)]
    assert replies == [payload.upper() + b"|bye"] * 2
    assert forwarder.process.exit_code() is not None


def test_stop_ends_open_connections_at_once(echo_port: int, tmp_path: Path) -> None:
    forwarder = Forwarder("127.0.0.2", echo_port, tmp_path / "forward.log")
    forwarder.start()
    with socket.create_connection(("127.0.0.2", forwarder.port), timeout=10) as held:
        held.sendall(b"still talking")
        began = time.monotonic()
        forwarder.stop()
        assert time.monotonic() - began < 2
        assert held.recv(100) == b""
    assert forwarder.process.exit_code() == 0


def test_peers_outside_the_allowed_networks_are_refused(echo_port: int, tmp_path: Path) -> None:
    log = tmp_path / "forward.log"
    with Forwarder("127.0.0.2", echo_port, log, allow=["127.0.0.3/32"]) as forwarder:
        assert exchange(("127.0.0.2", forwarder.port), b"hi", source="127.0.0.3") == b"HI|bye"
        assert exchange(("127.0.0.2", forwarder.port), b"hi", source="127.0.0.1") == b""
    assert "refused 127.0.0.1: not in 127.0.0.3/32" in log.read_text()


def test_a_taken_port_is_an_error_with_the_forwarders_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.2", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        forwarder = Forwarder("127.0.0.2", 1, tmp_path / "forward.log", listen_port=port)
        with pytest.raises(LocalEnvError, match=f"cannot listen on 127.0.0.2:{port}"):
            forwarder.start()


def test_in_cluster_clients_get_the_service_name_on_the_node_ip() -> None:
    node = Node(ControlPlane(), subnet="10.99.0.0/24")
    env, host_aliases = node.in_cluster_api_overrides()
    assert env == {
        "KUBERNETES_SERVICE_HOST": "kubernetes.default.svc",
        "KUBERNETES_SERVICE_PORT": "443",
    }
    assert host_aliases == [{"ip": "10.99.0.1", "hostnames": ["kubernetes.default.svc"]}]
    # The API server's certificate names it, so clients verify it as usual.
    assert node.api_server_host in SERVING_DNS_NAMES


def test_forwarding_needs_a_started_node() -> None:
    with pytest.raises(LocalEnvError, match="node not started"):
        Node(ControlPlane()).forward(9000, name="s3")
