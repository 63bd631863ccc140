"""Run the performance background loops without HTTP: python -m services.performance.worker."""

from __future__ import annotations

import asyncio

from services.performance.bootstrap import build_runtime
from services.performance.config import Settings
from shared.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_runtime(Settings())))
