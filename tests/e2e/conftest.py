"""End-to-end fixtures: the real stack (broker, three uvicorn processes, SQLite or PostgreSQL).

Each stack runs on free ports in a temporary directory; its service logs are kept there
(`<tmp>/e2e-<db>*/<service>.log`) and their tails are printed when a stack fails to start.
Timings measured by the tests are printed at the end of the run and written to
`<tmp>/timings.txt`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.kafka import KafkaCluster, start_kafka
from scripts.run import SERVICES, Stack, isolated_stack
from scripts.scenario import Attain

DB_KINDS = ("sqlite", "postgres")
#: (database, broker) pairs for tests that run the loop on both brokers.
STACK_KINDS = (
    pytest.param(("sqlite", "tansu"), id="sqlite"),
    pytest.param(("postgres", "tansu"), id="postgres"),
    pytest.param(("sqlite", "kafka"), marks=pytest.mark.kafka, id="sqlite-kafka"),
    pytest.param(("postgres", "kafka"), marks=pytest.mark.kafka, id="postgres-kafka"),
)
#: The Apache Kafka cluster behind a stack, stopped after the stack by stop_stack.
KAFKA_OF: dict[int, KafkaCluster] = {}
TIMINGS: list[str] = []
_TIMINGS_FILE: list[Path] = []


def record_timing(db: str, what: str, seconds: float) -> None:
    """Keep a measured latency for the summary (not asserted: it depends on the machine)."""
    record_note(db, f"{what}: {seconds * 1000:.0f} ms")


def record_note(db: str, text: str) -> None:
    """Keep a line for the e2e summary printed at the end of the run."""
    line = f"[{db}] {text}"
    TIMINGS.append(line)
    print(f"\n  timing {line}")
    for path in _TIMINGS_FILE:
        with path.open("a") as out:
            out.write(line + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the e2e timings of the run."""
    if TIMINGS:
        terminalreporter.section("e2e timings")
        for line in TIMINGS:
            terminalreporter.write_line(line)
        for path in _TIMINGS_FILE:
            terminalreporter.write_line(f"(also in {path})")


@pytest.fixture(scope="session")
def timings_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where timings are written for the run."""
    path = tmp_path_factory.getbasetemp() / "timings.txt"
    _TIMINGS_FILE[:] = [path]
    return path


def start_stack(
    db: str, run_dir: Path, *, broker: str = "tansu", kafka_nodes: int = 1, **env: str
) -> Stack:
    """Start broker (tansu, or Apache Kafka), database, migrations and the three services."""
    stack = isolated_stack(
        db,
        run_dir,
        PERFORMANCE_PERIOD_CLOSE_INTERVAL_S="3600",
        # Dispute deadlines are swept every second, so an overdue dispute shows within the test.
        FEEDBACK_DISPUTE_SWEEP_INTERVAL_S="1",
        **env,
    )
    stack.label = db if broker == "tansu" else f"{db}+kafka"
    if broker == "kafka":
        cluster = start_kafka(run_dir / "kafka", nodes=kafka_nodes)
        KAFKA_OF[id(stack)] = cluster
        stack.external_broker = cluster.bootstrap_servers
        stack.env["KAFKA_BOOTSTRAP_SERVERS"] = cluster.bootstrap_servers
        # As compose runs it: Apache Kafka has the idempotent producer that tansu lacks.
        stack.env["KAFKA_ENABLE_IDEMPOTENCE"] = "true"
        stack.env["KAFKA_REPLICATION_FACTOR"] = str(cluster.replicas)
    try:
        stack.start()
    except BaseException:
        print_logs(stack)
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    """Stop the stack's processes, then the Apache Kafka behind it if it has one."""
    stack.stop()
    cluster = KAFKA_OF.pop(id(stack), None)
    if cluster is not None:
        cluster.stop()


def stack_label(stack: Stack) -> str:
    """How timings name the stack: its database, plus '+kafka' on Apache Kafka."""
    return getattr(stack, "label", stack.db)


def print_logs(stack: Stack, lines: int = 40) -> None:
    """Print the tail of every service log (for a failing start or test)."""
    for name in SERVICES:
        path = stack.run_dir / f"{name}.log"
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            print(f"\n----- {path} (last {len(tail)} lines)\n" + "\n".join(tail))


def urls_of(stack: Stack) -> dict[str, str]:
    """Base URLs of the stack's services."""
    return {name: stack.url(name) for name in SERVICES}


@pytest.fixture(scope="module", params=DB_KINDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, timings_file: Path
) -> Iterator[Stack]:
    """A whole stack per module and database kind."""
    running = start_stack(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}"))
    yield running
    if request.session.testsfailed:
        print_logs(running)
    running.stop()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Attain]:
    """An HTTP client of a fresh organisation on the stack."""
    with Attain(urls_of(stack)) as client:
        yield client
