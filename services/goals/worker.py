"""Run the goals background loops without HTTP: python -m services.goals.worker."""

from __future__ import annotations

import asyncio

from services.goals.bootstrap import build_runtime
from services.goals.config import Settings
from shared.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_runtime(Settings())))
