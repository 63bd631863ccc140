"""`make doctor`: which tools each command needs, which are missing, and how to install them.

    python3 -m scripts.doctor [--for run|postgres|walkthrough|test|all ...]

Every tool is checked and reported; the exit status is 1 only when a tool that one of the
chosen commands needs is missing (default: all of them). `make run` and `make test` run it
first with their own profile, so a missing tool is named before anything starts.

Only the standard library is used: it runs with the system python3, before .venv exists.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Where Debian's postgresql-NN packages put the server binaries (not on PATH).
PG_GLOB = "/usr/lib/postgresql/*/bin"
PYTHON_MIN, PYTHON_MAX = (3, 11), (3, 13)
JAVA_MIN = 17

#: What each profile stands for, as the user typed it.
PROFILES = {
    "run": "`make run`",
    "postgres": "`make run DB=postgres`",
    "walkthrough": "the README walkthrough",
    "test": "`make test`",
}

#: One probe of the interpreter answers both the version and the venv question.
_PYTHON_PROBE = (
    "import sys, importlib.util as u; "
    "print('%d.%d' % sys.version_info[:2], int(bool(u.find_spec('ensurepip') and u.find_spec('venv'))))"
)


@dataclass
class Context:
    """Where tools are looked for: a PATH, the PostgreSQL folders and the repository root."""

    path: str
    pg_glob: str = PG_GLOB
    root: Path = ROOT
    python: str = "python3"
    _python_facts: tuple[str, bool] | None = field(default=None, repr=False)

    def which(self, name: str) -> str | None:
        """A program on this context's PATH."""
        return shutil.which(name, path=self.path)

    def pg_bin(self, name: str) -> str | None:
        """A PostgreSQL server binary: in a versioned server folder (newest first), else on PATH."""
        for folder in sorted(glob.glob(self.pg_glob), reverse=True):
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return self.which(name)

    def python_facts(self) -> tuple[str, bool] | None:
        """(major.minor, can make a venv) of the python that `make` uses, or None when absent."""
        if self._python_facts is None:
            found = self.which(self.python)
            if found is None:
                return None
            output = _output([found, "-c", _PYTHON_PROBE])
            parts = output.split()
            if len(parts) < 2:
                return ("unknown", False)
            self._python_facts = (parts[0], parts[1] == "1")
        return self._python_facts


def _output(command: Sequence[str]) -> str:
    """stdout and stderr of a short command ('' if it cannot run)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout + result.stderr


# ------------------------------------------------------------------------------------ probes
# Each probe returns (problem or None when fine, what was found).
Probe = Callable[[Context], tuple[str | None, str]]


def _on_path(name: str) -> Probe:
    def probe(ctx: Context) -> tuple[str | None, str]:
        found = ctx.which(name)
        return (None, found) if found else ("not found on PATH", "")

    return probe


def _pg(name: str) -> Probe:
    def probe(ctx: Context) -> tuple[str | None, str]:
        found = ctx.pg_bin(name)
        if found:
            return None, found
        return f"not found in {ctx.pg_glob} nor on PATH", ""

    return probe


def _python(ctx: Context) -> tuple[str | None, str]:
    facts = ctx.python_facts()
    if facts is None:
        return f"{ctx.python} not found on PATH", ""
    version = facts[0]
    try:
        numbers = tuple(int(n) for n in version.split("."))
    except ValueError:
        return f"{ctx.python} did not say its version", ""
    if not PYTHON_MIN <= numbers <= PYTHON_MAX:
        wanted = f"{PYTHON_MIN[0]}.{PYTHON_MIN[1]}-{PYTHON_MAX[0]}.{PYTHON_MAX[1]}"
        return f"{ctx.python} is {version}, the project needs {wanted}", version
    return None, f"{version} at {ctx.which(ctx.python)}"


def _venv(ctx: Context) -> tuple[str | None, str]:
    # Once .venv exists, `make` never creates it again, so the module is no longer needed.
    if (ctx.root / ".venv" / "bin" / "python").exists():
        return None, f"{ctx.root / '.venv'} exists"
    facts = ctx.python_facts()
    if facts is None:
        return f"no {ctx.python} to create .venv with", ""
    if not facts[1]:
        return f"{ctx.python} cannot create a virtual environment (no venv/ensurepip)", ""
    return None, f"{ctx.python} -m venv"


def _java(ctx: Context) -> tuple[str | None, str]:
    found = ctx.which("java")
    if not found:
        return "not found on PATH", ""
    # `java -version` prints e.g. 'openjdk version "17.0.15"' (or "1.8.0_392" before Java 9).
    match = re.search(r'version "(\d+)(?:\.(\d+))?', _output([found, "-version"]))
    if not match:
        return f"{found} did not say its version", found
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if major < JAVA_MIN:
        return f"{found} is Java {major}, {JAVA_MIN} or newer is needed", found
    return None, f"Java {major} at {found}"


@dataclass(frozen=True)
class Tool:
    """A prerequisite: who needs it, for what, and where it comes from."""

    name: str
    profiles: frozenset[str]
    role: str
    install: str
    probe: Probe


PG_INSTALL = "apt-get install postgresql-15 (server binaries in /usr/lib/postgresql/15/bin)"
TOOLS = (
    Tool(
        "python3",
        frozenset({"run", "postgres", "test", "walkthrough"}),
        "runs the project (3.11-3.13)",
        "apt-get install python3 (Debian 12 ships 3.11), or https://www.python.org/downloads/",
        _python,
    ),
    Tool(
        "python3-venv",
        frozenset({"run", "postgres", "test"}),
        "creates .venv on the first `make`",
        "apt-get install python3-venv",
        _venv,
    ),
    Tool(
        "curl",
        frozenset({"walkthrough"}),
        "sends the requests",
        "apt-get install curl",
        _on_path("curl"),
    ),
    Tool(
        "jq",
        frozenset({"walkthrough"}),
        "reads the JSON answers",
        "apt-get install jq",
        _on_path("jq"),
    ),
    Tool(
        "openssl",
        frozenset({"walkthrough"}),
        "signs the CRM webhooks (HMAC-SHA256)",
        "apt-get install openssl",
        _on_path("openssl"),
    ),
    Tool(
        "xxd",
        frozenset({"walkthrough"}),
        "turns the webhook secret into a hex key",
        "apt-get install xxd (Debian 12; in vim-common before)",
        _on_path("xxd"),
    ),
    Tool(
        "initdb",
        frozenset({"postgres", "test"}),
        "creates the throwaway PostgreSQL server",
        PG_INSTALL,
        _pg("initdb"),
    ),
    Tool(
        "pg_ctl",
        frozenset({"postgres", "test"}),
        "starts and stops that server",
        PG_INSTALL,
        _pg("pg_ctl"),
    ),
    Tool(
        "psql",
        frozenset({"postgres", "test"}),
        "creates its databases",
        "apt-get install postgresql-client-15 (comes with postgresql-15)",
        _pg("psql"),
    ),
    Tool(
        "java",
        frozenset({"test"}),
        f"runs Apache Kafka for the Kafka-from-Maven tests (Java {JAVA_MIN}+)",
        "apt-get install openjdk-17-jdk-headless, or Temurin 17 from https://adoptium.net",
        _java,
    ),
    Tool(
        "mvn",
        frozenset({"test"}),
        "fetches Apache Kafka for the Kafka-from-Maven tests",
        "apt-get install maven, or https://maven.apache.org/download.cgi",
        _on_path("mvn"),
    ),
)


@dataclass
class Finding:
    """The outcome for one tool."""

    tool: Tool
    problem: str | None
    found: str
    required: bool

    @property
    def needed_by(self) -> str:
        """The commands that need the tool, in words."""
        return ", ".join(PROFILES[p] for p in PROFILES if p in self.tool.profiles)


def diagnose(profiles: Sequence[str], ctx: Context) -> list[Finding]:
    """Check every tool; a tool is required when one of the profiles needs it."""
    wanted = set(PROFILES) if "all" in profiles else set(profiles)
    findings = []
    for tool in TOOLS:
        problem, found = tool.probe(ctx)
        findings.append(Finding(tool, problem, found, required=bool(tool.profiles & wanted)))
    return findings


def report(
    findings: Sequence[Finding], profiles: Sequence[str], *, quiet: bool = False
) -> tuple[str, int]:
    """The text to print (quiet: nothing when all is well) and the exit status."""
    targets = "every command" if "all" in profiles else ", ".join(PROFILES[p] for p in profiles)
    lines = [f"attain doctor: checking what {targets} needs"]
    for f in findings:
        if f.problem is None:
            if not quiet:
                lines.append(f"  ok       {f.tool.name:<13} {f.found}")
            continue
        # Optional ones are still named: the next command may need them.
        label = "MISSING " if f.required else "optional"
        lines.append(f"  {label} {f.tool.name:<13} {f.problem}")
        lines.append(f"           {'':<13} needed by {f.needed_by}: {f.tool.role}")
        lines.append(f"           {'':<13} install: {f.tool.install}")
    blocking = [f.tool.name for f in findings if f.problem and f.required]
    optional = [f.tool.name for f in findings if f.problem and not f.required]
    if blocking:
        lines.append(f"\n{targets} cannot run: install {', '.join(blocking)} (see above).")
    else:
        if quiet and not optional:
            return "", 0
        lines.append(f"\nEverything {targets} needs is here.")
        if optional:
            lines.append(f"Not needed for it, but missing: {', '.join(optional)}.")
    return "\n".join(lines), 1 if blocking else 0


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    """Entry point of `make doctor`; ctx replaces the real PATH in tests."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--for",
        dest="profiles",
        action="append",
        choices=[*PROFILES, "all"],
        help="a command about to run (repeatable; default: all)",
    )
    parser.add_argument("--python", default="python3", help="the interpreter `make` uses")
    parser.add_argument("--quiet", action="store_true", help="say nothing when all is there")
    args = parser.parse_args(argv)
    profiles = args.profiles or ["all"]
    if ctx is None:
        ctx = Context(path=os.environ.get("PATH", os.defpath), python=args.python)
    text, status = report(diagnose(profiles, ctx), profiles, quiet=args.quiet)
    if text:
        print(text, flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
