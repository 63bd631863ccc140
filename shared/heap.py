"""Keep start-up's objects out of the cyclic garbage collector's full collections.

A service imports and builds some 150,000 long-lived objects (FastAPI, pydantic, SQLAlchemy,
the app itself). Every full (generation 2) collection walked all of them: ~100-130 ms with
the event loop stopped, several times a minute under webhook load, which was the p99 of intake.
Frozen, they are never scanned again; what requests allocate is collected as before.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> bool:
    """Collect once, then freeze what survives; only the first call of a process does it."""
    global _frozen
    if _frozen:  # tests build many apps in one process: later ones' garbage must stay collectable
        return False
    gc.collect()  # garbage frozen now would never be freed
    gc.freeze()
    _frozen = True
    return True
