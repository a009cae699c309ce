"""The local node's pure parts: configuration files, host checks, failure diagnosis, images."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelregistry.localenv import node as node_module
from modelregistry.localenv.errors import LocalEnvError
from modelregistry.localenv.images import (
    BUSYBOX_IMAGE,
    PAUSE_IMAGE,
    ImageFile,
    ImageSpec,
    busybox_spec,
    layer_tar,
    oci_archive,
    pause_spec,
)
from modelregistry.localenv.node import (
    Mount,
    cgroup_problem,
    diagnose,
    find_node_binaries,
    node_schedulable,
    overlapping_routes,
)
from modelregistry.localenv.nodeconfig import (
    KubeletSettings,
    NodeLayout,
    bridge_address,
    cni_conflist,
    containerd_config,
    kubelet_argv,
    kubelet_config,
)

LAYOUT = NodeLayout(Path("/w"))
SETTINGS = KubeletSettings(
    node_ip="10.213.0.1",
    port=10250,
    healthz_port=10248,
    cgroup_root="/modelregistry-node",
    client_ca=Path("/w/ca.crt"),
    serving_cert=Path("/w/kubelet.crt"),
    serving_key=Path("/w/kubelet.key"),
)


# --- containerd ---------------------------------------------------------------


@pytest.fixture(scope="module")
def containerd() -> dict[str, Any]:
    text = containerd_config(
        LAYOUT,
        sandbox_image=PAUSE_IMAGE,
        cni_bin_dir=Path("/usr/lib/cni"),
        runc=Path("/usr/sbin/runc"),
    )
    return tomllib.loads(text)


def test_containerd_keeps_its_state_and_sockets_under_the_work_dir(
    containerd: dict[str, Any],
) -> None:
    assert containerd["version"] == 2
    assert containerd["root"] == "/w/containerd/root"
    assert containerd["state"] == "/w/containerd/state"
    assert containerd["grpc"]["address"] == "/w/containerd/containerd.sock"
    assert containerd["ttrpc"]["address"] == "/w/containerd/containerd.sock.ttrpc"
    assert containerd["plugins"]["io.containerd.internal.v1.opt"]["path"] == "/w/containerd/opt"
    cri = containerd["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["Root"] == "/w/containerd/runc"
    assert cri["cni"]["conf_dir"] == "/w/cni/net.d"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Without CAP_SYS_RESOURCE every sandbox fails otherwise.
        (("restrict_oom_score_adj",), True),
        (("sandbox_image",), PAUSE_IMAGE),
        (("containerd", "snapshotter"), "overlayfs"),
        (("containerd", "default_runtime_name"), "runc"),
        (("containerd", "runtimes", "runc", "runtime_type"), "io.containerd.runc.v2"),
        (("containerd", "runtimes", "runc", "options", "BinaryName"), "/usr/sbin/runc"),
        (("containerd", "runtimes", "runc", "options", "SystemdCgroup"), False),
        (("cni", "bin_dir"), "/usr/lib/cni"),
        (("cni", "max_conf_num"), 1),
        (("stream_server_address",), "127.0.0.1"),
    ],
)
def test_containerd_cri_settings(
    containerd: dict[str, Any], path: tuple[str, ...], expected: object
) -> None:
    value: Any = containerd["plugins"]["io.containerd.grpc.v1.cri"]
    for key in path:
        value = value[key]
    assert value == expected


# --- CNI ------------------------------------------------------------------------


def test_cni_bridge_has_no_route_out_and_no_masquerading() -> None:
    conflist = json.loads(
        cni_conflist(bridge="mr-cni0", subnet="10.213.0.0/24", ipam_dir=Path("/w/cni/networks"))
    )
    assert conflist["cniVersion"] == "1.0.0"
    [bridge] = conflist["plugins"]
    assert bridge["type"] == "bridge"
    assert bridge["bridge"] == "mr-cni0"
    assert (bridge["isGateway"], bridge["isDefaultGateway"], bridge["ipMasq"]) == (
        False,
        False,
        False,
    )
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "10.213.0.0/24", "gateway": "10.213.0.1"}]],
        "routes": [],
        "dataDir": "/w/cni/networks",
    }


@pytest.mark.parametrize(
    ("subnet", "address"),
    [("10.213.0.0/24", "10.213.0.1"), ("192.168.77.0/29", "192.168.77.1")],
)
def test_bridge_address_is_the_first_host(subnet: str, address: str) -> None:
    assert bridge_address(subnet) == address


# --- kubelet --------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubelet() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(kubelet_config(LAYOUT, SETTINGS))
    return loaded


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("apiVersion", "kubelet.config.k8s.io/v1beta1"),
        ("kind", "KubeletConfiguration"),
        ("containerRuntimeEndpoint", "unix:///w/containerd/containerd.sock"),
        ("failCgroupV1", False),
        ("cgroupDriver", "cgroupfs"),
        ("cgroupRoot", "/modelregistry-node"),
        ("failSwapOn", False),
        ("address", "10.213.0.1"),
        ("port", 10250),
        ("readOnlyPort", 0),
        ("healthzBindAddress", "127.0.0.1"),
        ("healthzPort", 10248),
        ("tlsCertFile", "/w/kubelet.crt"),
        ("tlsPrivateKeyFile", "/w/kubelet.key"),
        ("rotateCertificates", False),
        ("authorization", {"mode": "Webhook"}),
        ("podLogsDir", "/w/pod-logs"),
        ("volumePluginDir", "/w/kubelet/volume-plugins"),
        ("makeIPTablesUtilChains", False),
        ("imageGCHighThresholdPercent", 100),
        ("mergeDefaultEvictionSettings", False),
    ],
)
def test_kubelet_setting(kubelet: dict[str, Any], key: str, expected: object) -> None:
    assert kubelet[key] == expected


def test_kubelet_authenticates_clients_by_the_local_ca_and_webhook(
    kubelet: dict[str, Any],
) -> None:
    assert kubelet["authentication"] == {
        "anonymous": {"enabled": False},
        "webhook": {"enabled": True},
        "x509": {"clientCAFile": "/w/ca.crt"},
    }


def test_kubelet_has_no_static_pods_and_permissive_eviction(kubelet: dict[str, Any]) -> None:
    assert "staticPodPath" not in kubelet
    assert kubelet["evictionHard"]["nodefs.available"] == "1%"
    assert kubelet["evictionHard"]["imagefs.available"] == "1%"


def test_kubelet_command_line_points_into_the_work_dir() -> None:
    argv = kubelet_argv(
        Path("/cache/kubelet"), LAYOUT, node_name="modelregistry-node", node_ip="10.213.0.1"
    )
    assert argv == [
        "/cache/kubelet",
        "--config=/w/kubelet-config.yaml",
        "--kubeconfig=/w/kubelet.kubeconfig",
        "--root-dir=/w/kubelet",
        "--cert-dir=/w/kubelet/pki",
        "--hostname-override=modelregistry-node",
        "--node-ip=10.213.0.1",
    ]


# --- host checks ----------------------------------------------------------------


def test_missing_runtime_packages_are_named_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubelet = tmp_path / "kubelet"
    kubelet.write_text("")
    kubelet.chmod(0o755)
    monkeypatch.setenv("MODELREGISTRY_KUBELET", str(kubelet))
    monkeypatch.setattr(
        node_module,
        "_which",
        lambda name: None if name in ("containerd", "runc") else f"/usr/bin/{name}",
    )
    monkeypatch.setattr(node_module, "CNI_BIN_DIRS", (tmp_path / "cni",))
    with pytest.raises(LocalEnvError) as error:
        find_node_binaries()
    assert str(error.value) == (
        "the node needs containerd; runc; CNI plugins bridge, host-local, loopback "
        "(in /usr/lib/cni): apt-get install containerd runc containernetworking-plugins iptables"
    )


def test_a_missing_kubelet_names_the_build_script(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MODELREGISTRY_KUBELET", raising=False)
    monkeypatch.setenv("MODELREGISTRY_CACHE", str(tmp_path))
    with pytest.raises(LocalEnvError, match=r"run hack/build-tools.sh kubernetes"):
        find_node_binaries()


V1 = [
    Mount("/sys/fs/cgroup", "tmpfs", frozenset({"rw"})),
    *(
        Mount(f"/sys/fs/cgroup/{c}", "cgroup", frozenset({"rw", c}))
        for c in ("cpu", "cpuacct", "cpuset", "memory", "pids")
    ),
]


@pytest.mark.parametrize(
    ("mounts", "expected"),
    [
        (V1, None),
        ([Mount("/sys/fs/cgroup", "cgroup2", frozenset({"rw"}))], None),
        (
            [m for m in V1 if "memory" not in m.options],
            "cgroup v1 controllers memory are not mounted",
        ),
        (
            [m for m in V1 if m.fstype == "tmpfs"],
            "cgroup v1 controllers cpu, cpuacct, cpuset, memory are not mounted",
        ),
        (
            [*V1[:-2], Mount("/sys/fs/cgroup/memory", "cgroup", frozenset({"ro", "memory"}))],
            "cgroup controllers memory are mounted read-only",
        ),
    ],
)
def test_cgroup_problem(mounts: list[Mount], expected: str | None) -> None:
    problem = cgroup_problem(mounts)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(expected)


ROUTES = [
    ("eth0", "0.0.0.0/0"),
    ("eth0", "192.0.2.0/24"),
    ("docker0", "172.17.0.0/16"),
    ("mr-cni0", "10.213.0.0/24"),
]


@pytest.mark.parametrize(
    ("subnet", "expected"),
    [
        ("10.213.0.0/24", []),  # our own bridge's route, and the default route, are fine
        ("192.0.2.128/25", ["192.0.2.0/24 dev eth0"]),
        ("172.16.0.0/12", ["172.17.0.0/16 dev docker0"]),
        ("10.99.0.0/24", []),
    ],
)
def test_overlapping_routes(subnet: str, expected: list[str]) -> None:
    assert overlapping_routes(subnet, ROUTES, "mr-cni0") == expected


@pytest.mark.parametrize(
    ("log", "cause"),
    [
        (
            'E1201 run.go:72] "command failed" err="failed to run Kubelet: kubelet is '
            'configured to not run on a host using cgroup v1."',
            "failCgroupV1: false",
        ),
        (
            "failed to run Kubelet: ... Following Cgroup subsystem not mounted: [memory]",
            "cpu, cpuacct, cpuset and memory",
        ),
        ("listen tcp 10.213.0.1:10250: bind: address already in use", "port"),
        ("runc create failed: can't get final child's PID from pipe: EOF", "restrict_oom"),
        ("failed to mount overlay: invalid argument", "ext4 or xfs"),
        ('I1201 kubelet.go:100] "Starting kubelet"', None),
    ],
)
def test_diagnose_names_the_cause_and_the_fix(log: str, cause: str | None) -> None:
    explanation = diagnose(log)
    if cause is None:
        assert explanation is None
    else:
        assert explanation is not None
        assert cause in explanation


READY = {"type": "Ready", "status": "True"}


@pytest.mark.parametrize(
    ("node", "schedulable"),
    [
        ({"status": {"conditions": [READY]}}, True),
        ({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, False),
        ({}, False),
        (
            {
                "spec": {
                    "taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
                },
                "status": {"conditions": [READY]},
            },
            False,
        ),
        (
            {
                "spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]},
                "status": {"conditions": [READY]},
            },
            True,
        ),
    ],
)
def test_node_schedulable(node: dict[str, Any], schedulable: bool) -> None:
    assert node_schedulable(node) is schedulable


# --- images ---------------------------------------------------------------------


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_oci_archive_is_a_valid_layout_naming_the_image() -> None:
    spec = ImageSpec(
        name="localhost/x/y:1", files=[ImageFile("/bin/tool", b"\x7fELF")], cmd=["tool"]
    )
    files = members(oci_archive(spec))
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == "localhost/x/y:1"
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    # Every blob is stored under its own digest.
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(files[f"blobs/sha256/{entry['digest'][7:]}"])
    config = json.loads(files[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    [layer] = manifest["layers"]
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]
    assert config["config"]["Cmd"] == ["tool"]


def test_oci_archive_is_reproducible() -> None:
    spec = busybox_spec(b"binary")
    assert oci_archive(spec) == oci_archive(spec)


def test_layer_holds_parent_directories_files_and_links() -> None:
    with tarfile.open(fileobj=io.BytesIO(layer_tar(busybox_spec(b"bb").files))) as tar:
        entries = {m.name: m for m in tar.getmembers()}
    assert entries["bin"].isdir()
    assert entries["bin/busybox"].isfile()
    assert entries["bin/busybox"].mode == 0o755
    assert entries["bin/sh"].issym()
    assert entries["bin/sh"].linkname == "busybox"
    assert {m.mtime for m in entries.values()} == {0}


def test_pause_image_runs_pause_as_an_unprivileged_user() -> None:
    spec = pause_spec(b"pause")
    assert spec.name == PAUSE_IMAGE
    assert (list(spec.entrypoint), spec.user) == (["/pause"], "65535:65535")
    assert busybox_spec(b"").name == BUSYBOX_IMAGE


def test_a_deep_work_dir_gets_containerd_a_short_socket_path() -> None:
    from modelregistry.localenv.nodeconfig import SHORT_SOCKET_DIR

    shallow = NodeLayout(Path("/tmp/node"))
    deep = NodeLayout(Path("/tmp/" + "d" * 80))

    assert shallow.containerd_socket == Path("/tmp/node/containerd/containerd.sock")
    assert deep.containerd_socket == SHORT_SOCKET_DIR / "containerd.sock"
    # containerd refuses socket paths over 104 bytes, its ttrpc socket included.
    limit = NodeLayout(Path("/" + "e" * (104 - len("/containerd/containerd.sock.ttrpc") - 1)))
    assert len(str(limit.containerd_socket) + ".ttrpc") == 104
    assert limit.containerd_socket.parent.parent == limit.workdir


def test_a_work_dir_too_deep_for_the_kubelets_sockets_is_refused_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelregistry.localenv import node
    from modelregistry.localenv.errors import LocalEnvError
    from modelregistry.localenv.nodeconfig import WORKDIR_MAX

    monkeypatch.setattr("modelregistry.localenv.node.os.geteuid", lambda: 0)
    deep = Path("/tmp/" + "w" * (WORKDIR_MAX - len("/tmp/") + 1))

    with pytest.raises(LocalEnvError) as refused:
        node._preflight_host(NodeLayout(deep), "10.213.0.0/24", "mr-cni0")

    assert str(refused.value) == (
        f"the node's work dir {deep} is {WORKDIR_MAX + 1} bytes long; the kubelet's sockets "
        f"under it need it at most {WORKDIR_MAX}: give a shorter work dir (or none, for a "
        "temporary one)"
    )
