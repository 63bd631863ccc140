"""Operator commands that act on a service's database directly, across all tenants.

python -m shared.ops goals replay --since 2026-11-29T10:00:00+00:00
python -m shared.ops performance dead-letters
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.runtime import ServiceRuntime
from shared.uow import UnitOfWork


def _runtime(service: str) -> ServiceRuntime[UnitOfWork]:
    # Imported by name so shared never depends on a service statically.
    settings = importlib.import_module(f"services.{service}.config").Settings()
    runtime: ServiceRuntime[UnitOfWork] = importlib.import_module(
        f"services.{service}.bootstrap"
    ).build_runtime(settings)
    return runtime


async def replay(service: str, since: datetime, tenant: str | None) -> int:
    """Mark outbox rows since an instant unpublished; the service's relay sends them again."""
    runtime = _runtime(service)
    try:
        return await runtime.relay.replay(since=since, tenant_id=tenant)
    finally:
        await runtime.engine.dispose()


async def dead_letters(service: str) -> list[sa.Row[Any]]:
    """Every dead letter of a service, oldest first."""
    runtime = _runtime(service)
    table = runtime.plumbing.dead_letter
    try:
        async with runtime.engine.connect() as conn:
            return list((await conn.execute(sa.select(table).order_by(table.c.failed_at))).all())
    finally:
        await runtime.engine.dispose()


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("service", choices=["goals", "performance", "feedback"])
    sub = parser.add_subparsers(dest="command", required=True)
    replay_cmd = sub.add_parser("replay", help="re-publish outbox events since an instant")
    replay_cmd.add_argument("--since", required=True, type=datetime.fromisoformat)
    replay_cmd.add_argument("--tenant", help="only this org's events")
    sub.add_parser("dead-letters", help="list dead letters")
    args = parser.parse_args()
    if args.command == "replay":
        count = asyncio.run(replay(args.service, args.since, args.tenant))
        print(f"{args.service}: {count} events queued for re-publishing")
    else:
        for row in asyncio.run(dead_letters(args.service)):
            print(
                f"{row.failed_at.isoformat()} {row.id} {row.topic}[{row.partition}]@{row.offset} {row.error_type}: {row.error}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
