"""The machine check `make run` and `make test` begin with: decisions over given facts."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from modelregistry.localenv import node, nodeconfig
from modelregistry.localenv import prerequisites as pre
from modelregistry.localenv.prerequisites import (
    Facts,
    HostNames,
    Install,
    Mount,
    Needs,
    Stop,
    cgroup_problem,
    check,
    go_problem,
    host_problems,
    missing_packages,
    needs_for,
    package_present,
    plan,
    problems,
    python_problem,
    workdir_problem,
)

SCRIPT = Path(pre.__file__)
RUN = needs_for("run", dev_dir="/work/x/.dev")
RUN_PACKAGES = (
    "make",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "iproute2",
    "gcc",
    "libc6-dev",
    "git",
    "buildah",
    "debootstrap",
)
CGROUP_V1 = tuple(
    Mount(f"/sys/fs/cgroup/{c}", "cgroup", frozenset({"rw", c}))
    for c in ("cpu", "cpuacct", "cpuset", "memory")
)
FREE_HOST = HostNames(
    bridge_exists=False, bridge_left_by_a_killed_node=False, port_error="", routes=()
)


def ready(needs: Needs = RUN, **changes: object) -> Facts:
    """Facts of a machine with everything `needs` asks for; `changes` take some away."""
    facts = Facts(
        present=frozenset([*needs.packages, pre.VENV_PACKAGE]),
        is_root=True,
        python=(3, 11, 7),
        python_executable="/usr/bin/python3",
        go_version="go version go1.26.8 linux/amd64",
        mounts=CGROUP_V1,
        workdir_fstype="ext4",
        host=FREE_HOST,
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


class Machine:
    """Runs `check` on given facts: what it said, what it ran; installs succeed or not."""

    def __init__(self, facts: Facts, *, installs: bool = True, status: int = 0) -> None:
        self.facts = facts
        self.installs = installs
        self.status = status
        self.said: list[str] = []
        self.ran: list[tuple[tuple[str, ...], dict[str, str]]] = []

    def gather(self, needs: Needs) -> Facts:
        return self.facts

    def run(self, argv: Sequence[str], env: dict[str, str]) -> int:
        self.ran.append((tuple(argv), env))
        if self.installs and argv[:2] == ("apt-get", "install"):
            self.facts = dataclasses.replace(self.facts, present=self.facts.present | set(argv[3:]))
        return self.status

    def check(self, needs: Needs = RUN) -> int:
        return check(needs, self.gather, self.run, self.said.append)


# --- what each command needs --------------------------------------------------------


def test_make_run_needs_the_node_and_image_packages() -> None:
    assert RUN.command == "make run"
    assert RUN.packages == RUN_PACKAGES
    assert RUN.node
    assert RUN.node_workdir == "/work/x/.dev/node"


def test_make_test_needs_busybox_and_lua_too() -> None:
    needs = needs_for("test")
    assert needs.command == "make test"
    assert needs.packages == (*RUN_PACKAGES, "busybox-static", "lua5.1")
    assert needs.node


@pytest.mark.parametrize(
    ("node_wanted", "kubeconfig", "command"),
    [(False, False, "make run NODE=0"), (True, True, "make run CLUSTER=kubeconfig")],
)
def test_make_run_without_a_node_needs_only_make(
    node_wanted: bool, kubeconfig: bool, command: str
) -> None:
    needs = needs_for("run", node=node_wanted, kubeconfig=kubeconfig)
    assert (needs.command, needs.packages, needs.node) == (command, ("make",), False)
    # Nor root, cgroups or the node's names.
    assert problems(needs, ready(needs, is_root=False, mounts=(), host=None)) == []


def test_a_deep_dev_dir_puts_the_node_in_the_temporary_directory() -> None:
    needs = needs_for("run", dev_dir="/" + "d" * 80)
    assert needs.node_workdir == tempfile.gettempdir()


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown target 'lint' \\(expected run or test\\)"):
        needs_for("lint")


# --- packages ---------------------------------------------------------------------


def test_missing_packages_keep_the_order_of_the_list() -> None:
    present = set(RUN_PACKAGES) - {"debootstrap", "containerd"} | {pre.VENV_PACKAGE}
    assert missing_packages(RUN, present) == ["containerd", "debootstrap"]


def test_python_without_venv_adds_python3_venv() -> None:
    assert missing_packages(RUN, RUN_PACKAGES) == ["python3-venv"]


def test_nothing_missing_needs_no_plan() -> None:
    assert plan([], is_root=False) is None


def test_root_installs_exactly_the_missing_packages() -> None:
    action = plan(["buildah", "debootstrap"], is_root=True)
    assert isinstance(action, Install)
    assert action.lines() == [
        "apt-get update",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y buildah debootstrap",
    ]


def test_not_root_is_told_the_exact_sudo_line() -> None:
    action = plan(["buildah", "debootstrap"], is_root=False)
    assert isinstance(action, Stop)
    assert action.message.splitlines()[-1] == "sudo apt-get install -y buildah debootstrap"


def test_without_apt_the_packages_are_named() -> None:
    action = plan(["buildah"], is_root=True, has_apt=False)
    assert isinstance(action, Stop)
    assert "no apt-get to install them: buildah" in action.message


@pytest.mark.parametrize(
    ("package", "programs_here", "files_here", "present"),
    [
        ("containerd", {"containerd", "ctr"}, set(), True),
        ("containerd", {"containerd"}, set(), False),  # ctr imports the images
        ("iproute2", {"ip"}, set(), True),
        ("buildah", {"buildah"}, set(), True),
        ("buildah", set(), set(), False),
        (
            "containernetworking-plugins",
            set(),
            {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"},
            True,
        ),
        (
            "containernetworking-plugins",
            set(),
            {"/opt/cni/bin/bridge", "/opt/cni/bin/host-local", "/opt/cni/bin/loopback"},
            True,
        ),
        ("containernetworking-plugins", set(), {"/usr/lib/cni/bridge"}, False),
        ("libc6-dev", set(), {"/usr/lib/*/libc.a"}, True),
        ("libc6-dev", set(), set(), False),
        ("busybox-static", set(), {"/bin/busybox"}, True),
        ("busybox-static", set(), set(), False),
        ("lua5.1", {"lua5.1"}, set(), True),
        # Debian's `lua` alternative may be another Lua: only lua5.1 is Argo CD's.
        ("lua5.1", {"lua"}, set(), False),
    ],
)
def test_a_package_is_seen_by_what_the_project_uses_of_it(
    package: str, programs_here: set[str], files_here: set[str], present: bool
) -> None:
    seen = package_present(
        package,
        program=lambda name: name in programs_here,
        exists=lambda path: path in files_here,
        static=lambda path: True,
        module=lambda name: False,
    )
    assert seen is present


def test_a_dynamic_busybox_is_not_busybox_static() -> None:
    seen = package_present(
        "busybox-static",
        program=lambda name: True,
        exists=lambda path: True,
        static=lambda path: False,
        module=lambda name: True,
    )
    assert not seen


@pytest.mark.parametrize("has_ensurepip", [True, False])
def test_python3_venv_is_seen_by_ensurepip(has_ensurepip: bool) -> None:
    seen = package_present(
        "python3-venv",
        program=lambda name: True,
        exists=lambda path: True,
        static=lambda path: True,
        module=lambda name: has_ensurepip and name == "ensurepip",
    )
    assert seen is has_ensurepip


def test_static_binaries_are_told_from_dynamic_ones(tmp_path: Path) -> None:
    dynamic = tmp_path / "dynamic"
    dynamic.write_bytes(b"\x7fELF....../lib64/ld-linux-x86-64.so.2\0")
    static = tmp_path / "static"
    static.write_bytes(b"\x7fELF.......")
    assert not pre.is_static_binary(str(dynamic))
    assert pre.is_static_binary(str(static))
    assert not pre.is_static_binary(str(tmp_path / "absent"))


# --- versions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        "go version go1.26.8 linux/amd64",
        "go version go1.26rc1 linux/arm64",
        "go version go1.30.0 linux/amd64",
        "go version go2.0.1 linux/amd64",
        "go version devel go1.27-abcdef Tue Jan 1 linux/amd64",
    ],
)
def test_go_126_or_later_is_enough(output: str) -> None:
    assert go_problem(ready(go_version=output)) is None


def test_an_old_go_is_named_with_the_fix() -> None:
    assert go_problem(ready(go_version="go version go1.20 linux/amd64")) == (
        "Go >= 1.26 is needed to build the local tools "
        "(etcd, Kubernetes, the S3 server; hack/build-tools.sh); `go version` "
        "says 'go version go1.20 linux/amd64' (GOTOOLCHAIN=local): install a newer Go from "
        "https://go.dev/dl/ and put it first on PATH"
    )


def test_no_go_on_path_says_where_one_is() -> None:
    assert go_problem(ready(go_version=None)) == (
        "Go >= 1.26 is needed to build the local tools "
        "(etcd, Kubernetes, the S3 server; hack/build-tools.sh), and there is no "
        "`go` on PATH: install it from https://go.dev/dl/ and put it on PATH"
    )
    elsewhere = ready(go_version=None, go_elsewhere="/usr/local/go/bin/go")
    assert str(go_problem(elsewhere)).endswith(
        "; /usr/local/go/bin/go exists: add /usr/local/go/bin to PATH"
    )


def test_an_old_python_is_named_with_the_fix() -> None:
    facts = ready(python=(3, 9, 2), python_executable="/usr/bin/python3")
    assert python_problem(facts, RUN) == (
        "Python >= 3.11 is needed; /usr/bin/python3 is 3.9.2: install a newer one and name "
        "it to make, e.g. `make run PYTHON=python3.11`"
    )
    assert python_problem(ready(python=(3, 11, 0)), RUN) is None
    assert python_problem(ready(python=(3, 13, 1)), RUN) is None


def test_the_module_parses_as_python_37() -> None:
    # So an old system python3 runs it far enough to say which Python is needed.
    ast.parse(SCRIPT.read_text(), feature_version=(3, 7))


def test_it_runs_by_path_on_the_standard_library_alone() -> None:
    # -I: not the script's directory, -S: no site-packages (no venv, no project).
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "{run,test}" in result.stdout


# --- the host: root, cgroups, the node's names and work dir --------------------------


def test_the_node_needs_root() -> None:
    assert problems(RUN, ready(is_root=False, host=None)) == [
        "make run starts a local node (containerd, runc, kubelet) and builds the project's "
        "image with buildah: both need root; run it as root, or `make run NODE=0` to start "
        "without the node (validation Pods then stay Pending)"
    ]
    assert problems(needs_for("test"), ready(needs_for("test"), is_root=False, host=None)) == [
        "make test runs the integration tests on a local node (containerd, runc, kubelet) and "
        "builds the project's image with buildah: both need root; run it as root"
    ]


MOUNT_SETS = {
    "cgroup v2": (Mount("/sys/fs/cgroup", "cgroup2", frozenset({"rw"})),),
    "cgroup v1": CGROUP_V1,
    "v1 without memory": CGROUP_V1[:3],
    "v1 read-only": tuple(
        dataclasses.replace(m, options=m.options - {"rw"} | {"ro"}) for m in CGROUP_V1
    ),
    "none": (),
}


@pytest.mark.parametrize("mounts", list(MOUNT_SETS))
def test_cgroups_are_judged_as_the_node_judges_them(mounts: str) -> None:
    given = MOUNT_SETS[mounts]
    as_node = [node.Mount(m.point, m.fstype, m.options) for m in given]
    assert cgroup_problem(given) == node.cgroup_problem(as_node)


def test_missing_cgroup_controllers_stop_make_run() -> None:
    assert problems(RUN, ready(mounts=MOUNT_SETS["v1 without memory"])) == [
        "cgroup v1 controllers memory are not mounted; the kubelet needs cpu, cpuacct, cpuset, "
        "memory: mount them under /sys/fs/cgroup (or boot with cgroup v2: "
        "systemd.unified_cgroup_hierarchy=1)"
    ]


def test_the_names_are_the_nodes() -> None:
    assert pre.NODE_BRIDGE == node.DEFAULT_BRIDGE
    assert pre.NODE_SUBNET == node.DEFAULT_SUBNET
    assert pre.API_SERVICE_PORT == node.API_SERVICE_PORT
    assert Path(pre.NODE_LOCK_FILE) == node.LOCK_FILE
    assert Path(pre.NODE_STATE_FILE) == node.STATE_FILE
    assert pre.CGROUP_V1_CONTROLLERS == node.CGROUP_V1_CONTROLLERS
    assert pre.CNI_PLUGINS == node.CNI_PLUGINS
    assert tuple(Path(d) for d in pre.CNI_BIN_DIRS) == node.CNI_BIN_DIRS
    assert pre.WORKDIR_MAX == nodeconfig.WORKDIR_MAX


def test_a_free_host_has_no_problems() -> None:
    assert host_problems(FREE_HOST) == []
    # A node of this project runs: ours waits for it, nothing to say.
    assert host_problems(None) == []


def test_a_bridge_left_without_a_node_is_named() -> None:
    host = dataclasses.replace(FREE_HOST, bridge_exists=True)
    assert host_problems(host) == [
        "network interface mr-cni0 exists but no local node runs: delete it with "
        "`ip link delete mr-cni0`"
    ]
    # A killed node's: the next node's start removes it.
    killed = dataclasses.replace(host, bridge_left_by_a_killed_node=True)
    assert host_problems(killed) == []


def test_a_taken_port_is_named() -> None:
    host = dataclasses.replace(FREE_HOST, port_error="Address already in use")
    assert host_problems(host) == [
        "port 443 is in use (Address already in use); the node serves the API server to Pods "
        "there: stop what listens (`ss -ltnp 'sport = :443'`)"
    ]


def test_a_route_over_the_pod_subnet_is_named() -> None:
    routes = (("eth0", "0.0.0.0/0"), ("eth1", "10.213.0.0/16"), ("mr-cni0", "10.213.0.0/24"))
    host = dataclasses.replace(FREE_HOST, routes=routes)
    assert host_problems(host) == [
        "the node's Pod subnet 10.213.0.0/24 overlaps this machine's routes "
        "(10.213.0.0/16 dev eth1): remove those routes"
    ]


@pytest.mark.parametrize("fstype", ["overlay", "tmpfs"])
def test_a_work_dir_on_overlay_or_tmpfs_is_named(fstype: str) -> None:
    assert workdir_problem(RUN, fstype) == (
        f"the node's work dir /work/x/.dev/node is on {fstype}: containerd's overlayfs "
        "snapshotter needs a disk filesystem (ext4, xfs) for its layers; use a checkout there, "
        "or `make run DEV_DIR=<a directory there>`"
    )
    assert workdir_problem(RUN, "ext4") is None


def test_the_work_dirs_filesystem_is_the_deepest_mount_over_it() -> None:
    mounts = (
        Mount("/", "overlay", frozenset()),
        Mount("/work", "ext4", frozenset()),
        Mount("/workspace", "tmpfs", frozenset()),
    )
    assert pre.filesystem_type("/work/x/.dev/node", mounts) == "ext4"
    assert pre.filesystem_type("/workspace/x", mounts) == "tmpfs"
    assert pre.filesystem_type("/home/x", mounts) == "overlay"


def test_mounts_and_routes_are_read_from_proc_files(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
    )
    assert pre.read_mounts(str(mountinfo)) == (
        Mount("/sys/fs/cgroup/memory", "cgroup", frozenset({"rw", "relatime", "memory"})),
        Mount("/", "ext4", frozenset({"rw", "relatime", "discard"})),
    )
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    assert pre.read_routes(str(route)) == (("eth0", "0.0.0.0/0"), ("eth0", "192.0.2.0/24"))


# --- the whole check ----------------------------------------------------------------


def test_all_present_says_and_does_nothing() -> None:
    machine = Machine(ready())
    assert machine.check() == 0
    assert (machine.said, machine.ran) == ([], [])


def test_not_root_with_missing_packages_stops_with_the_sudo_line() -> None:
    present = ready().present - {"buildah", "debootstrap"}
    machine = Machine(ready(is_root=False, host=None, present=present))
    assert machine.check() == 1
    assert machine.ran == []
    assert machine.said == [
        "make run: this machine is not ready:",
        "  - make run starts a local node (containerd, runc, kubelet) and builds the project's "
        "image with buildah: both need root; run it as root, or `make run NODE=0` to start "
        "without the node (validation Pods then stay Pending)",
        "  - these Debian packages are missing: buildah debootstrap; install them (as root), "
        "then run this again:",
        "sudo apt-get install -y buildah debootstrap",
    ]


def test_make_run_node_0_as_a_user_without_make_gets_the_sudo_line() -> None:
    needs = needs_for("run", node=False)
    machine = Machine(ready(needs, is_root=False, present=frozenset({pre.VENV_PACKAGE})))
    assert machine.check(needs) == 1
    assert machine.said[-1] == "sudo apt-get install -y make"


def test_root_with_missing_packages_runs_the_install_and_goes_on() -> None:
    present = ready().present - {"buildah", "debootstrap"}
    machine = Machine(ready(present=present))
    assert machine.check() == 0
    assert machine.ran == [
        (("apt-get", "update"), {}),
        (
            ("apt-get", "install", "-y", "buildah", "debootstrap"),
            {"DEBIAN_FRONTEND": "noninteractive"},
        ),
    ]
    assert machine.said == [
        "make run: installing the Debian packages it needs: buildah debootstrap",
        "+ apt-get update",
        "+ DEBIAN_FRONTEND=noninteractive apt-get install -y buildah debootstrap",
    ]


def test_a_failing_apt_get_stops_it() -> None:
    machine = Machine(ready(present=ready().present - {"gcc"}), status=100)
    assert machine.check() == 1
    assert machine.ran == [(("apt-get", "update"), {})]
    assert machine.said[-1] == "make run: `apt-get update` failed (exit 100)"


def test_a_package_still_missing_after_the_install_stops_it() -> None:
    machine = Machine(ready(present=ready().present - {"gcc"}), installs=False)
    assert machine.check() == 1
    assert machine.said[-1] == "make run: still missing after apt-get install: gcc"


def test_root_with_other_problems_installs_nothing_and_names_them_all() -> None:
    facts = ready(
        present=ready().present - {"buildah"},
        go_version="go version go1.20 linux/amd64",
        python=(3, 9, 2),
    )
    machine = Machine(facts)
    assert machine.check() == 1
    assert machine.ran == []
    assert machine.said[0] == "make run: this machine is not ready:"
    assert machine.said[1].startswith("  - Python >= 3.11 is needed; /usr/bin/python3 is 3.9.2")
    assert machine.said[2].startswith("  - Go >= 1.26 is needed")
    assert machine.said[3] == (
        "  - these Debian packages are missing too: buildah; they are installed "
        "(apt-get install -y buildah) once the above is fixed"
    )


def test_main_reads_the_goal_from_its_arguments() -> None:
    seen: list[Needs] = []
    said: list[str] = []

    def gather(needs: Needs) -> Facts:
        seen.append(needs)
        return ready(needs, go_version=None)

    status = pre.main(
        ["run", "--no-node", "--dev-dir", "/tmp/d"], gather, lambda a, e: 0, said.append
    )
    assert status == 1
    assert seen == [needs_for("run", node=False, dev_dir="/tmp/d")]
    assert said[0] == "make run NODE=0: this machine is not ready:"
