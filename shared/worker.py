"""Run a service's background loops as a process of their own, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

from shared.observability import configure_logging
from shared.runtime import ServiceRuntime
from shared.uow import UnitOfWork


async def run_worker(runtime: ServiceRuntime[UnitOfWork]) -> None:
    """Start the relay, consumer and jobs; stop cleanly (offsets committed) on a signal."""
    configure_logging(service=runtime.settings.service_name, level=runtime.settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start_workers()
    try:
        await stop.wait()
    finally:
        await runtime.stop()
