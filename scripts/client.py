"""Write each service's OpenAPI document into clients/typescript/openapi/ and regenerate its types.

python -m scripts.client           # after an API change: snapshot + types, then commit both
python -m scripts.client --check   # exit 1 when the snapshot or the types are stale
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

SERVICES = ("goals", "performance", "feedback")
CLIENT = Path(__file__).resolve().parent.parent / "clients" / "typescript"


@cache  # building an app takes a moment; the document never changes within a process
def live_openapi(service: str) -> dict[str, Any]:
    """The OpenAPI document the service serves at /openapi.json (no database is touched)."""
    config = importlib.import_module(f"services.{service}.config")
    main = importlib.import_module(f"services.{service}.main")
    settings = config.Settings(
        database_url="sqlite+aiosqlite:///:memory:", run_workers=False, env="test"
    )
    return main.create_app(settings).openapi()


def render(document: dict[str, Any]) -> str:
    """Stable text of a document, so a diff shows only real changes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def ensure_node_modules() -> None:
    """Install the pinned generator from package-lock.json if it is not there yet."""
    if not (CLIENT / "node_modules" / ".bin" / "openapi-typescript").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True)


def generate_types(openapi_dir: Path, out_dir: Path) -> None:
    """Run the pinned openapi-typescript on each snapshot into out_dir/<service>.d.ts."""
    ensure_node_modules()
    binary = CLIENT / "node_modules" / ".bin" / "openapi-typescript"
    for service in SERVICES:
        subprocess.run(
            [
                str(binary),
                str(openapi_dir / f"{service}.json"),
                "-o",
                str(out_dir / f"{service}.d.ts"),
                # A request field with a server default stays optional for the caller.
                "--default-non-nullable",
                "false",
            ],
            cwd=CLIENT,
            check=True,
            capture_output=True,
        )


def stale_files() -> list[str]:
    """Snapshots that differ from the live documents, and types that differ from a regeneration."""
    return [
        f"openapi/{s}.json"
        for s in SERVICES
        if (CLIENT / "openapi" / f"{s}.json").read_text() != render(live_openapi(s))
    ] + stale_types()


def stale_types() -> list[str]:
    """Generated types that differ from a fresh generation from the checked-in snapshots."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_types(CLIENT / "openapi", Path(tmp))
        return [
            f"src/{s}.d.ts"
            for s in SERVICES
            if (CLIENT / "src" / f"{s}.d.ts").read_text() != (Path(tmp) / f"{s}.d.ts").read_text()
        ]


def main() -> int:
    """Regenerate, or with --check report what is stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: clients/typescript/{name} (run: python -m scripts.client)")
        return 1 if stale else 0
    (CLIENT / "openapi").mkdir(exist_ok=True)
    for service in SERVICES:
        (CLIENT / "openapi" / f"{service}.json").write_text(render(live_openapi(service)))
    with tempfile.TemporaryDirectory() as tmp:
        generate_types(CLIENT / "openapi", Path(tmp))
        for service in SERVICES:
            shutil.copy(Path(tmp) / f"{service}.d.ts", CLIENT / "src" / f"{service}.d.ts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
