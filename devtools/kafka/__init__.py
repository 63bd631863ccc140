"""Apache Kafka (KRaft) from Maven Central for tests and local runs: fetch, format, start, kill.

The broker's jars come from `devtools/kafka/pom.xml` (copied once into a cache folder keyed by the
pom's hash); nodes run `kafka.Kafka` as plain JVM processes on 127.0.0.1 free ports. Not part of
the production image: only tests and developers use it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devtools.broker import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J2 = HERE / "log4j2.properties"
READY_LINE = "Kafka Server started"
INSTALL_HINT = (
    "Apache Kafka for the tests is built from Maven Central and needs a JDK (17+) and Maven: "
    "install them, e.g. `apt-get install -y openjdk-17-jdk-headless maven`"
)
# Small heap and cheap JIT/GC: a test broker holds little data, and 2 shared cores matter more
# than peak throughput. MaxInlineLevel as in Kafka's own start script.
JVM_OPTS = (
    "-Xms64m",
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)


class KafkaToolingMissing(RuntimeError):
    """java or mvn is not on PATH: the message names what to install."""


def kafka_version() -> str:
    """The pinned Kafka version (the pom's kafka.version)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise RuntimeError(f"no <kafka.version> in {POM}")
    return match.group(1).strip()


def cache_dir() -> Path:
    """Where the jars live: ATTAIN_KAFKA_CACHE, else ~/.cache/attain; keyed by the pom's hash."""
    base = Path(os.environ.get("ATTAIN_KAFKA_CACHE") or Path.home() / ".cache" / "attain")
    digest = hashlib.sha1(POM.read_bytes() + LOG4J2.read_bytes()).hexdigest()[:10]
    return base / f"kafka-{kafka_version()}-{digest}"


def require_tools(*names: str) -> None:
    """Fail loudly, naming the package, when a tool the broker needs is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise KafkaToolingMissing(f"{', '.join(missing)} not found on PATH. {INSTALL_HINT}")


def ensure_libs() -> Path:
    """The folder of broker jars, copied by Maven on first use and reused after that."""
    require_tools("java")
    target = cache_dir()
    libs = target / "libs"
    if (target / ".complete").exists():
        return libs
    require_tools("java", "mvn")
    staging = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        "mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={staging / 'libs'}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not any((staging / "libs").glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"mvn could not copy the Kafka jars:\n{result.stdout}\n{result.stderr}")
    (staging / ".complete").touch()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(target)
    except OSError:  # another process finished first: its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def new_cluster_id() -> str:
    """A KRaft cluster id: base64url of 16 random bytes, unpadded (what StorageTool prints)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # StorageTool's argument parser would read an id starting with '-' as an option.
        if not cid.startswith("-"):
            return cid


def _java(libs: Path, main: str, *args: str, log_dir: Path) -> list[str]:
    return [
        "java", *JVM_OPTS, f"-Dlog4j2.configurationFile={LOG4J2}",
        f"-Dkafka.logs.dir={log_dir}", "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


@dataclass
class KafkaNode:
    """One KRaft node (broker and controller in one process) and its files."""

    node_id: int
    port: int
    controller_port: int
    base: Path
    advertised_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        """The node's log directory (survives restarts)."""
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        """The node's own log file."""
        return self.base / "kafka.log"

    @property
    def properties_path(self) -> Path:
        """The node's server.properties."""
        return self.base / "server.properties"

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        """Whether the JVM runs."""
        return self.process is not None and self.process.poll() is None

    def start(self, libs: Path) -> None:
        """Spawn the JVM on the existing (formatted) data dir; returns before it is ready."""
        log = open(self.log_path, "ab")
        self._log_offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            _java(libs, "kafka.Kafka", str(self.properties_path), log_dir=self.base),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a test's Ctrl-C must not reach the JVM before teardown
        )
        log.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until this start of the node logged that the server started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"kafka node {self.node_id} exited; see {self.log_path}")
            with self.log_path.open("rb") as log:
                log.seek(getattr(self, "_log_offset", 0))
                if READY_LINE.encode() in log.read():
                    wait_for_port(self.port, timeout=max(1.0, deadline - time.monotonic()))
                    return
            time.sleep(0.1)
        raise TimeoutError(f"kafka node {self.node_id} not ready after {timeout}s; {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, no flush (what a crash looks like)."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (controlled shutdown), SIGKILL if it takes longer than the timeout."""
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def _properties(
    node: KafkaNode, voters: str, replicas: int, extra: dict[str, str]
) -> dict[str, str]:
    isr = "2" if replicas >= 3 else "1"
    advertised = node.advertised_port or node.port
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{advertised}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": isr,
        # Internal topics default to 50 partitions and replication 3: far too much for a test box.
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": isr,
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": isr,
        # Our clients use 2000 ms sessions (default minimum is 6000) and must not wait 3 s to join.
        "group.min.session.timeout.ms": "500",
        "group.initial.rebalance.delay.ms": "0",
        # A 128 MiB dedupe buffer per node is most of a small heap.
        "log.cleaner.dedupe.buffer.size": "2097152",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "num.replica.fetchers": "1",
        # A killed follower is dropped from the ISR after this long (default 30 s).
        "replica.lag.time.max.ms": "5000",
        # Fault tests restart nodes: fence and re-register fast instead of after 9 s / 2 s.
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
    }
    props.update(extra)
    return props


@dataclass
class KafkaCluster:
    """One or more KRaft nodes on 127.0.0.1 sharing a static controller quorum."""

    nodes: list[KafkaNode]
    libs: Path
    cluster_id: str
    replicas: int
    base: Path
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        """Address list to give Kafka clients."""
        return ",".join(f"127.0.0.1:{n.advertised_port or n.port}" for n in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        """The node with this id."""
        return next(n for n in self.nodes if n.node_id == node_id)

    def alive(self) -> bool:
        """Whether every node runs."""
        return all(n.alive() for n in self.nodes)

    def restart(self, node: KafkaNode, timeout: float = 90.0) -> None:
        """Start a stopped or killed node again on the same data directory and wait for it."""
        node.start(self.libs)
        node.wait_ready(timeout)

    def stop(self) -> None:
        """Stop every node together (a node left alone without quorum would hang its shutdown)."""
        for node in self.nodes:
            if node.alive():
                assert node.process is not None
                node.process.terminate()
        deadline = time.monotonic() + 20
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.kill()


def start_kafka(
    base: Path,
    *,
    nodes: int = 1,
    ports: Sequence[int] | None = None,
    advertised_ports: Sequence[int] | None = None,
    overrides: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> KafkaCluster:
    """Format and start a KRaft cluster of `nodes` combined nodes and wait until all are ready."""
    libs = ensure_libs()
    base.mkdir(parents=True, exist_ok=True)
    members = [
        KafkaNode(
            node_id=i + 1,
            port=ports[i] if ports else free_port(),
            controller_port=free_port(),
            base=base / f"node-{i + 1}",
            advertised_port=advertised_ports[i] if advertised_ports else None,
        )
        for i in range(nodes)
    ]
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in members)
    cluster = KafkaCluster(
        nodes=members,
        libs=libs,
        cluster_id=new_cluster_id(),
        replicas=min(nodes, 3),
        base=base,
        overrides=dict(overrides or {}),
    )
    formats = []
    for node in members:
        node.base.mkdir(parents=True, exist_ok=True)
        props = _properties(node, voters, cluster.replicas, cluster.overrides)
        node.properties_path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        # Static voters: format with neither --standalone nor --initial-controllers.
        command = _java(
            libs, "kafka.tools.StorageTool", "format", "-t", cluster.cluster_id,
            "-c", str(node.properties_path), log_dir=node.base,
        )  # fmt: skip
        formats.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for node, fmt in zip(members, formats, strict=True):
        out, _ = fmt.communicate(timeout=120)
        if fmt.returncode != 0:
            raise RuntimeError(f"formatting kafka node {node.node_id} failed:\n{out.decode()}")
    try:
        # All at once: brokers wait for a controller majority before they report ready.
        for node in members:
            node.start(libs)
        for node in members:
            node.wait_ready(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def tail(paths: Iterable[Path], lines: int = 30) -> str:
    """The last lines of each log, for a failing test's output."""
    out = []
    for path in paths:
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- {path}\n" + "\n".join(text))
    return "\n".join(out)
