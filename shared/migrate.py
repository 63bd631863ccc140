"""Alembic wiring shared by every service's migrations/ folder, and a small CLI.

python -m shared.migrate goals upgrade            # to head
python -m shared.migrate goals revision "add x"   # autogenerate from the models
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    """Alembic config for a service, without any ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Bring a service's database to a revision."""
    command.upgrade(alembic_config(service, url), revision)


def run_env(metadata: sa.MetaData) -> None:
    """Body of every migrations/env.py: run migrations online with the async driver."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"

    def _migrate(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def _online() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(_online())


def _service_url(service: str) -> str:
    # Imported by name so shared never depends on a service statically.
    settings = importlib.import_module(f"services.{service}.config").Settings()
    url: str = settings.database_url
    return url


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("service", choices=["goals", "performance", "feedback"])
    parser.add_argument("action", choices=["upgrade", "revision", "current"])
    parser.add_argument("message", nargs="?", default="change")
    parser.add_argument("--url", help="database URL (default: the service's settings)")
    args = parser.parse_args()
    url = args.url or _service_url(args.service)
    if url.startswith("sqlite") and "///./" in url:
        (ROOT / ".run").mkdir(exist_ok=True)
    cfg = alembic_config(args.service, url)
    if args.action == "upgrade":
        command.upgrade(cfg, "head")
    elif args.action == "current":
        command.current(cfg, verbose=True)
    else:
        command.revision(cfg, message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
