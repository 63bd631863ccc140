"""Run the feedback background loops without HTTP: python -m services.feedback.worker."""

from __future__ import annotations

import asyncio

from services.feedback.bootstrap import build_runtime
from services.feedback.config import Settings
from shared.worker import run_worker

if __name__ == "__main__":
    asyncio.run(run_worker(build_runtime(Settings())))
