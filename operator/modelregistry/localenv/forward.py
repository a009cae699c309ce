"""A TCP forwarder, so Pods reach servers that listen on the host's loopback.

Pods cannot reach 127.0.0.1 of the host, and the local servers (the API
server, versitygw) listen there only. A `Forwarder` listens on an address
Pods can reach (the node's bridge address) and copies bytes both ways to the
loopback listener; TLS passes through untouched, so clients still verify the
server's own certificate. It accepts connections only from the networks it is
given (the Pods' subnet), so the listener is no way into the host from
elsewhere. It runs as a child process (`python -m modelregistry.localenv.forward`)
that dies with its parent, like every local server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.process import ManagedProcess, wait_until

_LISTENING: Final = re.compile(r"^listening on (\S+):(\d+)$", re.MULTILINE)
_CHUNK: Final = 64 * 1024


class Forwarder:
    """`listen_host:listen_port` (0: any free port) forwarded to `target_host:target_port`."""

    def __init__(
        self,
        listen_host: str,
        target_port: int,
        log_path: Path,
        *,
        listen_port: int = 0,
        target_host: str = "127.0.0.1",
        allow: Sequence[str] = (),
        name: str = "forwarder",
    ) -> None:
        self.listen_host = listen_host
        self.target = (target_host, target_port)
        argv = [
            sys.executable,
            "-m",
            "modelregistry.localenv.forward",
            "--listen",
            f"{listen_host}:{listen_port}",
            "--to",
            f"{target_host}:{target_port}",
        ]
        for network in allow:
            argv += ["--allow", str(ipaddress.ip_network(network))]
        # The source tree first, so the child imports this same package.
        source = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self.process = ManagedProcess(name, argv, log_path, env=env)
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._port is None:
            raise LocalEnvError(f"{self.process.name} not started")
        return self._port

    @property
    def address(self) -> str:
        """`host:port` it listens on."""
        return f"{self.listen_host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.process.start()
        try:
            wait_until(
                lambda: _LISTENING.search(self.process.log_tail(5)) is not None,
                deadline=time.monotonic() + timeout,
                what=f"{self.process.name} to listen on {self.listen_host}",
                processes=[self.process],
                blame=self.process,
                interval=0.05,
            )
        except BaseException:
            self.process.stop()
            raise
        match = _LISTENING.search(self.process.log_tail(5))
        assert match is not None
        self._port = int(match.group(2))

    def stop(self) -> None:
        self.process.stop()
        self._port = None

    def __enter__(self) -> Forwarder:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- the child process ---------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still be sending
    except (ConnectionError, OSError):
        writer.close()


async def _serve(
    listen: tuple[str, int],
    target: tuple[str, int],
    allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> None:
    open_writers: set[asyncio.StreamWriter] = set()

    async def handle(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        peer = ipaddress.ip_address(client.get_extra_info("peername")[0])
        if allowed and not any(peer in network for network in allowed):
            print(f"refused {peer}: not in {', '.join(map(str, allowed))}", flush=True)
            client.close()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*target)
        except OSError as error:
            print(f"cannot reach {target[0]}:{target[1]}: {error}", flush=True)
            client.close()
            return
        open_writers.update((client, upstream))
        try:
            await asyncio.gather(_pipe(client_reader, upstream), _pipe(upstream_reader, client))
        finally:
            for writer in (client, upstream):
                open_writers.discard(writer)
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"forwarding to {target[0]}:{target[1]}", flush=True)
    print(f"listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    # Stopping ends every connection (watches stay open for long) at once.
    server.close()
    for writer in open_writers:
        writer.close()
    await server.wait_closed()


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelregistry.localenv.forward")
    parser.add_argument("--listen", type=_host_port, required=True, help="HOST:PORT (port 0: any)")
    parser.add_argument("--to", type=_host_port, required=True, help="HOST:PORT to forward to")
    parser.add_argument(
        "--allow", type=ipaddress.ip_network, action="append", default=[], help="peer network"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.listen, args.to, args.allow))
    except OSError as error:
        print(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
