"""Operator settings, built once at start-up and passed to what needs them."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from datetime import timedelta

from modelregistry.decisions import quantity
from modelregistry.decisions.oci import podplan
from modelregistry.decisions.validationpod import SERVICE_ACCOUNT, ResourceBox
from modelregistry.storage import Endpoint

PREFIX = "MODELREGISTRY_"
ADDRESSING_STYLES = ("auto", "path", "virtual")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
# The image `hack/build-image.sh` tags, and the chart deploys.
DEFAULT_IMAGE = "localhost/modelregistry/operator:dev"


@dataclass(frozen=True)
class Settings:
    default_endpoint: Endpoint
    """Object store used when a ModelVersion names no spec.artifact.storage.endpoint."""
    reverify_interval: timedelta
    """How old a verification may get before the bytes are hashed again."""
    check_interval: float
    """Seconds between periodic passes over each object (re-verification, waiting states)."""
    max_concurrent_verifications: int
    """Artifacts hashed at once; each may use `file_workers` threads."""
    file_workers: int
    """Threads that hash the files of one prefix artifact in parallel."""
    retry_base_delay: float
    retry_max_delay: float
    validation_image: str
    """The registry's own image, run by validation Pods (fetch and built-in checks)."""
    validation_pull_policy: str
    validation_endpoint: str | None
    """The S3 endpoint as validation Pods reach it (default: default_endpoint's)."""
    validation_secret: str | None
    """Secret (in a version's namespace) the fetch step uses when the artifact names none."""
    model_refresh_window: float
    """Seconds a Model's status waits after a change of its versions, so a burst is one write."""
    namespaces: tuple[str, ...]
    """Watch only these namespaces: whitespace-separated patterns, each as Kopf's --namespace
    takes it (`team-a`, `team-*,!team-test`); empty watches all, the default."""
    validation_service_account: str = SERVICE_ACCOUNT
    """The ServiceAccount (no token) the operator keeps in each namespace for validation Pods."""
    validation_runtime_class: str | None = None
    """RuntimeClass of validation Pods (gVisor, Kata), where the cluster has one."""
    validation_resources: ResourceBox = field(default_factory=ResourceBox)
    """Each validation container's default requests and limits, and the most it may get."""
    validation_network_policy: bool = True
    """Keep a NetworkPolicy for validation Pods in each namespace where they run."""
    validation_egress: tuple[tuple[str, int], ...] = ()
    """(address or CIDR, port) validation Pods may reach; empty: the validation S3 endpoint."""
    validation_registries: tuple[tuple[str, str], ...] = ()
    """(registry, endpoint): OCI registries validation Pods may read, and where they reach each."""
    validation_dns: str | None = "kube-system/k8s-app=kube-dns"
    """`namespace/label=value` of the cluster DNS Pods validation Pods may ask; None: no DNS."""
    label_selector: str | None = None
    """Only Models and ModelVersions with these labels (a shard of the registry)."""
    http_port: int = 8080
    """Port of /healthz, /readyz and /metrics; 0 serves none."""
    log_format: str = "text"
    """text, or json: one object per line with the object's namespace, name and uid."""
    leader_election: bool = False
    """Only the replica holding the Lease works; the others stand by, ready to take over."""
    leader_election_namespace: str | None = None
    """Where the Lease is (default: the Pod's own namespace)."""
    leader_election_name: str = "modelregistry-operator"
    """The Lease's name: one per shard."""
    admission_policies: str = "check"
    """check: count approvals only while the admission policies are seen installed; installed:
    trust the installer that they are (an operator with no cluster-wide read rights)."""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def read(name: str) -> str | None:
            raw = env.get(PREFIX + name)
            return raw if raw else None

        def seconds(name: str, default: float) -> float:
            raw = read(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a number of seconds") from None
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{PREFIX}{name}={raw!r}: must be greater than zero and finite")
            return value

        def count(name: str, default: int) -> int:
            raw = read(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a number (whole)") from None
            if value < 1:
                raise ValueError(f"{PREFIX}{name}={raw!r}: must be greater than zero")
            return value

        def quantities(name: str, default: dict[str, str]) -> dict[str, str]:
            raw = read(name)
            if raw is None:
                return dict(default)
            found = dict(default)
            for item in raw.split(","):
                key, sep, value = item.strip().partition("=")
                if not sep or key not in default:
                    wanted = ",".join(f"{k}=QUANTITY" for k in default)
                    raise ValueError(f"{PREFIX}{name}={raw!r}: expected {wanted}")
                try:
                    quantity.parse(value)
                except quantity.QuantityError as error:
                    raise ValueError(f"{PREFIX}{name}: {key}: {error}") from None
                found[key] = value.strip()
            return found

        def flag(name: str, default: bool) -> bool:
            raw = read(name)
            if raw is None:
                return default
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise ValueError(f"{PREFIX}{name}={raw!r}: expected true or false")

        def port(name: str, default: int) -> int:
            raw = read(name)
            if raw is None:
                return default
            if not raw.isdigit() or int(raw) > 65535:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected a port, 0 to 65535 (0: none)")
            return int(raw)

        def choice(name: str, choices: tuple[str, ...]) -> str:
            raw = read(name) or choices[0]
            if raw not in choices:
                raise ValueError(f"{PREFIX}{name}={raw!r}: expected one of {', '.join(choices)}")
            return raw

        box = ResourceBox()
        resources = ResourceBox(
            requests=quantities("VALIDATION_REQUESTS", box.requests),
            limits=quantities("VALIDATION_LIMITS", box.limits),
            maximum=quantities("VALIDATION_MAX_LIMITS", box.maximum),
            scratch=read("VALIDATION_SCRATCH_SIZE") or box.scratch,
        )
        try:
            quantity.parse(resources.scratch)
        except quantity.QuantityError as error:
            raise ValueError(f"{PREFIX}VALIDATION_SCRATCH_SIZE: {error}") from None

        addressing = read("S3_ADDRESSING_STYLE")
        if addressing not in (None, *ADDRESSING_STYLES):
            raise ValueError(
                f"{PREFIX}S3_ADDRESSING_STYLE={addressing!r}: expected one of "
                + ", ".join(ADDRESSING_STYLES)
            )

        pull_policy = read("VALIDATION_IMAGE_PULL_POLICY") or "IfNotPresent"
        if pull_policy not in PULL_POLICIES:
            raise ValueError(
                f"{PREFIX}VALIDATION_IMAGE_PULL_POLICY={pull_policy!r}: expected one of "
                + ", ".join(PULL_POLICIES)
            )

        return cls(
            default_endpoint=Endpoint(
                url=read("S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or None,
                region=read("S3_REGION"),
                addressing_style=addressing,
            ),
            reverify_interval=timedelta(seconds=seconds("REVERIFY_INTERVAL", 3600)),
            check_interval=seconds("CHECK_INTERVAL", 60),
            max_concurrent_verifications=count("MAX_CONCURRENT_VERIFICATIONS", 2),
            file_workers=count("FILE_WORKERS", 4),
            retry_base_delay=seconds("RETRY_BASE_DELAY", 2),
            retry_max_delay=seconds("RETRY_MAX_DELAY", 60),
            model_refresh_window=seconds("MODEL_REFRESH_WINDOW", 1),
            validation_image=read("VALIDATION_IMAGE") or DEFAULT_IMAGE,
            validation_pull_policy=pull_policy,
            validation_endpoint=read("VALIDATION_S3_ENDPOINT")
            or read("S3_ENDPOINT")
            or env.get("AWS_ENDPOINT_URL")
            or None,
            validation_secret=read("VALIDATION_SECRET"),
            namespaces=tuple((read("NAMESPACES") or "").split()),
            label_selector=read("LABEL_SELECTOR"),
            http_port=port("HTTP_PORT", 8080),
            log_format=choice("LOG_FORMAT", ("text", "json")),
            leader_election=flag("LEADER_ELECTION", False),
            leader_election_namespace=read("LEADER_ELECTION_NAMESPACE")
            or env.get("POD_NAMESPACE")
            or None,
            leader_election_name=read("LEADER_ELECTION_NAME") or "modelregistry-operator",
            admission_policies=choice("ADMISSION_POLICIES", ("check", "installed")),
            validation_service_account=read("VALIDATION_SERVICE_ACCOUNT") or SERVICE_ACCOUNT,
            validation_runtime_class=read("VALIDATION_RUNTIME_CLASS"),
            validation_resources=resources,
            validation_network_policy=flag("VALIDATION_NETWORK_POLICY", True),
            validation_egress=egress(read("VALIDATION_EGRESS")),
            validation_registries=podplan.parse_registries(read("VALIDATION_REGISTRIES")),
            validation_dns=dns_selector(env.get(PREFIX + "VALIDATION_DNS")),
        )

    def retry_delay(self, retry: int) -> float:
        """Exponential backoff for transient failures, capped."""
        return float(min(self.retry_max_delay, self.retry_base_delay * 2 ** min(retry, 16)))


def egress(raw: str | None) -> tuple[tuple[str, int], ...]:
    """`ADDRESS[/BITS]:PORT,...` (MODELREGISTRY_VALIDATION_EGRESS) as (CIDR, port) pairs."""
    if raw is None:
        return ()
    pairs = []
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        address, sep, port = item.rpartition(":")
        try:
            network = ipaddress.ip_network(address.strip("[]"), strict=False)
            number = int(port)
        except ValueError:
            network, number = None, 0
        if not sep or network is None or not 1 <= number <= 65535:
            raise ValueError(
                f"{PREFIX}VALIDATION_EGRESS: {item!r}: expected ADDRESS[/BITS]:PORT, "
                "e.g. 10.0.0.0/24:9000"
            )
        pairs.append((str(network), number))
    return tuple(pairs)


def dns_selector(raw: str | None) -> str | None:
    """MODELREGISTRY_VALIDATION_DNS: `namespace/label=value`, or empty for no DNS at all."""
    if raw is None:
        return "kube-system/k8s-app=kube-dns"
    if not raw.strip():
        return None
    namespace, slash, label = raw.strip().partition("/")
    if not slash or "=" not in label or not namespace:
        raise ValueError(
            f"{PREFIX}VALIDATION_DNS={raw!r}: expected NAMESPACE/LABEL=VALUE, "
            "e.g. kube-system/k8s-app=kube-dns, or empty for no DNS"
        )
    return raw.strip()
