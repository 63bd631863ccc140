"""`python -m devtools.kafka fetch|run`: copy the broker jars, or run a broker until Ctrl-C."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from devtools.kafka import KafkaToolingMissing, ensure_libs, kafka_version, start_kafka


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="copy the pinned Kafka jars into the cache (no-op when cached)")
    run = sub.add_parser("run", help="format and run a local KRaft cluster in the foreground")
    run.add_argument("--nodes", type=int, default=1)
    run.add_argument("--port", type=int, help="client port of node 1 (default: a free port)")
    run.add_argument("--dir", type=Path, help="data folder (default: a new temporary one)")
    args = parser.parse_args()
    try:
        if args.command == "fetch":
            print(f"Kafka {kafka_version()} jars in {ensure_libs()}")
            return 0
        base = args.dir or Path(tempfile.mkdtemp(prefix="attain-kafka-"))
        ports = None
        if args.port:
            from devtools.broker import free_port

            ports = [args.port] + [free_port() for _ in range(args.nodes - 1)]
        cluster = start_kafka(base, nodes=args.nodes, ports=ports)
    except KafkaToolingMissing as exc:
        print(f"error: {exc}")
        return 2
    print(f"Kafka {kafka_version()} on {cluster.bootstrap_servers} (data in {base})", flush=True)
    try:
        while cluster.alive():
            cluster.nodes[0].process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
