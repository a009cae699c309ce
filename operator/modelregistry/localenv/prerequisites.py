"""What `make run` and `make test` need from this machine, checked before anything long.

The Makefile and `.ci/run` run this file with the system's Python, by path,
before the virtualenv exists:

    python3 -I operator/modelregistry/localenv/prerequisites.py run|test [--no-node] ...

so it uses only the standard library and parses on Pythons older than the
project's, long enough to say which Python is needed. It checks the Debian
packages, the Go and Python versions, root, cgroups, and the fixed names the
local node takes (bridge, port, subnet); where packages are missing it
installs them as root, or else prints the exact `sudo apt-get install` line and
stops at once. The decisions are pure functions over `Facts`; `gather()` reads
this machine.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

MIN_PYTHON = (3, 11)
MIN_GO = (1, 26)

# The same names as modelregistry.localenv.node and .nodeconfig (a unit test
# holds them together; that module needs the virtualenv, this one must not).
NODE_BRIDGE = "mr-cni0"
NODE_SUBNET = "10.213.0.0/24"
API_SERVICE_PORT = 443
NODE_LOCK_FILE = "/run/lock/modelregistry-node.lock"
NODE_STATE_FILE = "/run/lock/modelregistry-node.json"
CGROUP_V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory")
CNI_PLUGINS = ("bridge", "host-local", "loopback")
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
WORKDIR_MAX = 72
BUSYBOX = "/bin/busybox"

# The Debian packages, by what needs them.
# make: the entry points; python3-venv: `python3 -m venv` on Debian's Python.
BASE_PACKAGES = ("make",)
# The local node: containerd + runc, CNI bridge plugins, iptables (the
# kubelet's rules), ip (the bridge), gcc + libc6-dev (the static pause image).
NODE_PACKAGES = (
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "iproute2",
    "gcc",
    "libc6-dev",
)
# The project's image for the node: its key comes from git, buildah builds it
# on a base that debootstrap makes.
IMAGE_PACKAGES = ("git", "buildah", "debootstrap")
# The integration tests: fresh clones (git) and a static busybox test image;
# lua5.1 runs the Argo CD health checks (Argo CD runs them in gopher-lua, Lua 5.1).
TEST_PACKAGES = ("git", "busybox-static", "lua5.1")
VENV_PACKAGE = "python3-venv"
# Programs in sbin, which a user's PATH often lacks.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Needs:
    """What one command needs: its packages, and whether it starts the local node."""

    command: str  # for messages: "make run", "make test"
    packages: tuple[str, ...]
    node: bool  # root, cgroups, the node's bridge, port, subnet and work dir
    node_workdir: str = ""  # absolute; where the node keeps its state


def needs_for(
    target: str, *, node: bool = True, kubeconfig: bool = False, dev_dir: str = ".dev"
) -> Needs:
    """What `make test` needs, or `make run` (with or without the node, or on KUBECONFIG's)."""
    if target == "test":
        every = BASE_PACKAGES + NODE_PACKAGES + IMAGE_PACKAGES + TEST_PACKAGES
        # The tests' node keeps its state under pytest's temporary directory.
        return Needs("make test", _unique(every), True, tempfile.gettempdir())
    if target != "run":
        raise ValueError(f"unknown target {target!r} (expected run or test)")
    with_node = node and not kubeconfig
    flags = " CLUSTER=kubeconfig" if kubeconfig else (" NODE=0" if not node else "")
    if not with_node:
        return Needs(f"make run{flags}", BASE_PACKAGES, False)
    # `modelregistry dev` keeps the node in <dev dir>/node, or in a temporary
    # directory when that path is too long for the kubelet's sockets.
    workdir = str(Path(dev_dir).resolve() / "node")
    if len(workdir) > WORKDIR_MAX:
        workdir = tempfile.gettempdir()
    return Needs("make run", _unique(BASE_PACKAGES + NODE_PACKAGES + IMAGE_PACKAGES), True, workdir)


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


# --- what is on this machine ----------------------------------------------------


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    options: frozenset[str]


@dataclass(frozen=True)
class HostNames:
    """The fixed names the node takes, as found while no node of this project runs."""

    bridge_exists: bool
    bridge_left_by_a_killed_node: bool  # the node's own clean-up removes it
    port_error: str  # why API_SERVICE_PORT cannot be bound, or ""
    routes: tuple[tuple[str, str], ...]  # (interface, destination network)


@dataclass(frozen=True)
class Facts:
    """What the checks read from this machine; tests make their own."""

    present: frozenset[str]  # Debian packages whose programs or files are here
    is_root: bool
    python: tuple[int, ...]
    python_executable: str
    go_version: str | None  # `go version`'s output; None when there is no go on PATH
    go_elsewhere: str = ""  # a go binary found off PATH, for the message
    has_apt: bool = True
    mounts: tuple[Mount, ...] = ()
    workdir_fstype: str = ""
    # None: a node of this project holds the lock (ours waits for it), or not gathered.
    host: HostNames | None = None


def which(name: str) -> str | None:
    """A program on PATH, or in sbin (runc, iptables and ip live there)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def is_static_binary(path: str) -> bool:
    """The same test as modelregistry.localenv.images: no dynamic loader named in its header."""
    try:
        with Path(path).open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return b"/lib64/ld-linux" not in head and b"/lib/ld-linux" not in head


def package_present(
    package: str,
    program: Callable[[str], bool],
    exists: Callable[[str], bool],
    static: Callable[[str], bool],
    module: Callable[[str], bool],
) -> bool:
    """Whether what the project uses of `package` is here (its programs or files)."""
    if package == "containerd":
        return program("containerd") and program("ctr")
    if package == "containernetworking-plugins":
        return any(all(exists(f"{d}/{p}") for p in CNI_PLUGINS) for d in CNI_BIN_DIRS)
    if package == "iproute2":
        return program("ip")
    if package == "libc6-dev":  # what `gcc -static` links
        return exists("/usr/lib/*/libc.a") or exists("/usr/lib/libc.a")
    if package == "busybox-static":
        return exists(BUSYBOX) and static(BUSYBOX)
    if package == VENV_PACKAGE:
        return module("ensurepip")
    return program(package)


def _exists(pattern: str) -> bool:
    """Whether an absolute path (with `*` wildcards) names a file."""
    return any(Path("/").glob(pattern.lstrip("/")))


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def present_packages(packages: Iterable[str]) -> frozenset[str]:
    return frozenset(
        p
        for p in packages
        if package_present(
            p, lambda n: which(n) is not None, _exists, is_static_binary, _has_module
        )
    )


def read_go_version() -> str | None:
    """`go version` of the go on PATH, as the build runs it (no toolchain download)."""
    go = shutil.which("go")
    if go is None:
        return None
    try:
        result = subprocess.run(
            [go, "version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, GOTOOLCHAIN="local"),
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"(`go version` failed: {error})"
    return result.stdout.decode(errors="replace").strip()


def read_mounts(mountinfo: str = "/proc/self/mountinfo") -> tuple[Mount, ...]:
    mounts = []
    for line in Path(mountinfo).read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4].encode().decode("unicode_escape")
        options = frozenset(fields[5].split(",")) | frozenset(tail[2].split(","))
        mounts.append(Mount(point, tail[0], options))
    return tuple(mounts)


def read_routes(table: str = "/proc/net/route") -> tuple[tuple[str, str], ...]:
    """(interface, destination network) of the IPv4 routes."""
    routes = []
    for line in Path(table).read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
        mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
        routes.append((fields[0], str(ipaddress.IPv4Network(f"{destination}/{mask}"))))
    return tuple(routes)


def port_error(port: int) -> str:
    """Why a server could not bind `port` on every address, or "" (bound and closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - as the node's forwarder binds
        except OSError as error:
            return error.strerror or str(error)
    return ""


def read_host_names() -> HostNames | None:
    """The node's fixed names, read while holding its lock; None when a node holds it."""
    try:
        handle = open(NODE_LOCK_FILE, "a+")  # noqa: PTH123, SIM115 - closed below
    except OSError:
        handle = None  # no /run/lock, or not root: no node can hold it either
    try:
        if handle is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
        return HostNames(
            bridge_exists=Path("/sys/class/net", NODE_BRIDGE).exists(),
            bridge_left_by_a_killed_node=Path(NODE_STATE_FILE).exists(),
            port_error=port_error(API_SERVICE_PORT),
            routes=read_routes(),
        )
    finally:
        if handle is not None:
            handle.close()  # releases the lock


def filesystem_type(path: str, mounts: Iterable[Mount]) -> str:
    """The type of the filesystem `path` (or, not yet made, its nearest parent) would be on."""
    resolved = os.path.realpath(path)
    best = Mount("/", "", frozenset())
    for mount in mounts:
        inside = resolved == mount.point or resolved.startswith(mount.point.rstrip("/") + "/")
        if inside and len(mount.point) >= len(best.point):
            best = mount
    return best.fstype


def gather(needs: Needs) -> Facts:
    """Read this machine: what `needs` asks about, nothing that takes long."""
    go = read_go_version()
    elsewhere = ""
    if go is None and os.access("/usr/local/go/bin/go", os.X_OK):
        elsewhere = "/usr/local/go/bin/go"
    is_root = os.geteuid() == 0
    mounts: tuple[Mount, ...] = ()
    host = None
    if needs.node:
        mounts = read_mounts()
        # Binding the node's privileged port needs root; without it, root is the problem.
        host = read_host_names() if is_root else None
    return Facts(
        present=present_packages([*needs.packages, VENV_PACKAGE]),
        is_root=is_root,
        python=tuple(sys.version_info[:3]),
        python_executable=sys.executable,
        go_version=go,
        go_elsewhere=elsewhere,
        has_apt=which("apt-get") is not None or Path("/usr/bin/apt-get").is_file(),
        mounts=mounts,
        workdir_fstype=filesystem_type(needs.node_workdir, mounts) if needs.node else "",
        host=host,
    )


# --- decisions --------------------------------------------------------------------


def missing_packages(needs: Needs, present: Iterable[str]) -> list[str]:
    """The Debian packages `needs` lacks, in its order; python3-venv when venv cannot work."""
    have = set(present)
    missing = [p for p in needs.packages if p not in have]
    if VENV_PACKAGE not in have:
        missing.append(VENV_PACKAGE)
    return missing


@dataclass(frozen=True)
class Install:
    """Commands to run (as root), each an argv with its environment additions."""

    commands: tuple[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], ...]

    def lines(self) -> list[str]:
        """The commands as a person would type them."""
        return [" ".join([*(f"{k}={v}" for k, v in env), *argv]) for argv, env in self.commands]


@dataclass(frozen=True)
class Stop:
    """What the person must do first; the check exits non-zero."""

    message: str


def plan(missing: Sequence[str], *, is_root: bool, has_apt: bool = True) -> Install | Stop | None:
    """How the missing packages get installed: here (root, apt), or by the person; None: no need."""
    if not missing:
        return None
    names = " ".join(missing)
    if not has_apt:
        return Stop(
            f"these Debian packages are missing and there is no apt-get to install them: "
            f"{names}; install their equivalents with this system's package manager"
        )
    if not is_root:
        return Stop(
            f"these Debian packages are missing: {names}; install them (as root), then run "
            f"this again:\nsudo apt-get install -y {names}"
        )
    return Install(
        (
            (("apt-get", "update"), ()),
            (("apt-get", "install", "-y", *missing), (("DEBIAN_FRONTEND", "noninteractive"),)),
        )
    )


def version_of(text: str, pattern: str) -> tuple[int, int] | None:
    found = re.search(pattern, text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def python_problem(facts: Facts, needs: Needs) -> str | None:
    if tuple(facts.python[:2]) >= MIN_PYTHON:
        return None
    have = ".".join(str(n) for n in facts.python)
    want = ".".join(str(n) for n in MIN_PYTHON)
    return (
        f"Python >= {want} is needed; {facts.python_executable} is {have}: install a newer "
        f"one and name it to make, e.g. `{needs.command} PYTHON=python3.11`"
    )


def go_problem(facts: Facts) -> str | None:
    want = (
        f"Go >= {MIN_GO[0]}.{MIN_GO[1]} is needed to build the local tools "
        "(etcd, Kubernetes, the S3 server; hack/build-tools.sh)"
    )
    if facts.go_version is None:
        hint = (
            f"; {facts.go_elsewhere} exists: add {Path(facts.go_elsewhere).parent} to PATH"
            if facts.go_elsewhere
            else ": install it from https://go.dev/dl/ and put it on PATH"
        )
        return f"{want}, and there is no `go` on PATH{hint}"
    found = version_of(facts.go_version, r"\bgo(\d+)\.(\d+)")
    if found is not None and found >= MIN_GO:
        return None
    return (
        f"{want}; `go version` says {facts.go_version!r} (GOTOOLCHAIN=local): install a newer "
        "Go from https://go.dev/dl/ and put it first on PATH"
    )


def root_problem(facts: Facts, needs: Needs) -> str | None:
    if not needs.node or facts.is_root:
        return None
    if needs.command == "make test":
        return (
            "make test runs the integration tests on a local node (containerd, runc, kubelet) "
            "and builds the project's image with buildah: both need root; run it as root"
        )
    return (
        "make run starts a local node (containerd, runc, kubelet) and builds the project's "
        "image with buildah: both need root; run it as root, or `make run NODE=0` to start "
        "without the node (validation Pods then stay Pending)"
    )


def cgroup_problem(mounts: Iterable[Mount]) -> str | None:
    """Why the kubelet would refuse this host's cgroups, with the fix (as localenv.node says)."""
    mounts = list(mounts)
    if any(m.point == "/sys/fs/cgroup" and m.fstype == "cgroup2" for m in mounts):
        return None  # cgroup v2: the kubelet's default and preferred mode
    mounted = {opt for m in mounts if m.fstype == "cgroup" for opt in m.options}
    absent = [c for c in CGROUP_V1_CONTROLLERS if c not in mounted]
    if absent:
        return (
            f"cgroup v1 controllers {', '.join(absent)} are not mounted; the kubelet needs "
            f"{', '.join(CGROUP_V1_CONTROLLERS)}: mount them under /sys/fs/cgroup "
            "(or boot with cgroup v2: systemd.unified_cgroup_hierarchy=1)"
        )
    read_only = sorted(
        c
        for c in CGROUP_V1_CONTROLLERS
        for m in mounts
        if m.fstype == "cgroup" and c in m.options and "ro" in m.options
    )
    if read_only:
        return (
            f"cgroup controllers {', '.join(read_only)} are mounted read-only, so the kubelet "
            "cannot create Pod cgroups: run on a host (or privileged container) where "
            "/sys/fs/cgroup is writable"
        )
    return None


def overlapping_routes(routes: Iterable[tuple[str, str]]) -> list[str]:
    """Routes that would collide with the node's subnet (the default route does not)."""
    network = ipaddress.ip_network(NODE_SUBNET)
    return [
        f"{destination} dev {interface}"
        for interface, destination in routes
        if interface != NODE_BRIDGE
        and ipaddress.ip_network(destination).prefixlen > 0
        and ipaddress.ip_network(destination).overlaps(network)
    ]


def host_problems(host: HostNames | None) -> list[str]:
    """What would keep the node from taking its bridge, port and subnet; none while one runs."""
    if host is None:
        return []
    problems = []
    if host.bridge_exists and not host.bridge_left_by_a_killed_node:
        problems.append(
            f"network interface {NODE_BRIDGE} exists but no local node runs: delete it with "
            f"`ip link delete {NODE_BRIDGE}`"
        )
    if host.port_error:
        problems.append(
            f"port {API_SERVICE_PORT} is in use ({host.port_error}); the node serves the API "
            f"server to Pods there: stop what listens (`ss -ltnp 'sport = :{API_SERVICE_PORT}'`)"
        )
    clashes = overlapping_routes(host.routes)
    if clashes:
        problems.append(
            f"the node's Pod subnet {NODE_SUBNET} overlaps this machine's routes "
            f"({'; '.join(clashes)}): remove those routes"
        )
    return problems


def workdir_problem(needs: Needs, fstype: str) -> str | None:
    if not needs.node or fstype not in ("overlay", "tmpfs"):
        return None
    return (
        f"the node's work dir {needs.node_workdir} is on {fstype}: containerd's overlayfs "
        "snapshotter needs a disk filesystem (ext4, xfs) for its layers; "
        + (
            "set TMPDIR to a directory on one"
            if needs.command == "make test"
            else "use a checkout there, or `make run DEV_DIR=<a directory there>`"
        )
    )


def problems(needs: Needs, facts: Facts) -> list[str]:
    """Everything but packages that stops `needs` here, each with its fix."""
    found = [python_problem(facts, needs), go_problem(facts), root_problem(facts, needs)]
    if needs.node:
        found += [cgroup_problem(facts.mounts), workdir_problem(needs, facts.workdir_fstype)]
        found += host_problems(facts.host)
    return [p for p in found if p is not None]


# --- the command -------------------------------------------------------------------


def check(
    needs: Needs,
    gather_facts: Callable[[Needs], Facts],
    run: Callable[[Sequence[str], dict[str, str]], int],
    say: Callable[[str], None],
) -> int:
    """Check, install what is missing when root, check again; 0 when ready, else 1."""
    facts = gather_facts(needs)
    found = problems(needs, facts)
    missing = missing_packages(needs, facts.present)
    action = plan(missing, is_root=facts.is_root, has_apt=facts.has_apt)
    if isinstance(action, Install) and found:
        # Fix the rest first: packages are installed on the next run.
        names = " ".join(missing)
        action = Stop(
            f"these Debian packages are missing too: {names}; they are installed "
            f"(apt-get install -y {names}) once the above is fixed"
        )
    if found or isinstance(action, Stop):
        say(f"{needs.command}: this machine is not ready:")
        for problem in found + ([action.message] if isinstance(action, Stop) else []):
            first, *rest = problem.splitlines()
            say(f"  - {first}")
            for line in rest:
                say(line)
        return 1
    if isinstance(action, Install):
        say(f"{needs.command}: installing the Debian packages it needs: {' '.join(missing)}")
        for argv, env in action.commands:
            say("+ " + " ".join([*(f"{k}={v}" for k, v in env), *argv]))
            status = run(argv, dict(env))
            if status != 0:
                say(f"{needs.command}: `{' '.join(argv)}` failed (exit {status})")
                return 1
        still = missing_packages(needs, gather_facts(needs).present)
        if still:
            say(f"{needs.command}: still missing after apt-get install: {' '.join(still)}")
            return 1
    return 0


def _run(argv: Sequence[str], env: dict[str, str]) -> int:
    return subprocess.call(list(argv), env=dict(os.environ, **env))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(
    argv: Sequence[str] | None = None,
    gather_facts: Callable[[Needs], Facts] = gather,
    run: Callable[[Sequence[str], dict[str, str]], int] = _run,
    say: Callable[[str], None] = _say,
) -> int:
    parser = argparse.ArgumentParser(
        prog="prerequisites.py", description="Check (and as root, install) what make needs."
    )
    parser.add_argument("target", choices=["run", "test"], help="the make target to check for")
    parser.add_argument("--no-node", action="store_true", help="make run NODE=0")
    parser.add_argument("--kubeconfig", action="store_true", help="make run CLUSTER=kubeconfig")
    parser.add_argument("--dev-dir", default=".dev", help="make run's DEV_DIR")
    args = parser.parse_args(argv)
    needs = needs_for(
        args.target, node=not args.no_node, kubeconfig=args.kubeconfig, dev_dir=args.dev_dir
    )
    try:
        return check(needs, gather_facts, run, say)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
