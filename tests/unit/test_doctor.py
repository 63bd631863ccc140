"""`make doctor` names each missing tool, who needs it and how to install it, on a fake PATH."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import doctor

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = ("curl", "jq", "openssl", "xxd")
POSTGRES = ("initdb", "pg_ctl", "psql")


def fake_tool(folder: Path, name: str, script: str = "exit 0") -> Path:
    """An executable shell script standing in for a tool."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_python(folder: Path, version: str = "3.11", venv: bool = True) -> Path:
    """A python3 answering the doctor's probe with a version and whether it can make a venv."""
    return fake_tool(folder, "python3", f"echo '{version} {int(venv)}'")


def context(tmp_path: Path, *tools: str, root: Path | None = None) -> doctor.Context:
    """A doctor context seeing only the given fake tools (no real PATH, no real PostgreSQL)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in tools:
        fake_tool(bin_dir, name)
    # An empty project root: no .venv, so the venv module is really needed.
    project = root or tmp_path / "project"
    project.mkdir(exist_ok=True)
    return doctor.Context(
        path=str(bin_dir), pg_glob=str(tmp_path / "pg" / "*" / "bin"), root=project
    )


def run(
    argv: list[str], ctx: doctor.Context, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The doctor's exit status and what it printed."""
    status = doctor.main(argv, ctx)
    return status, capsys.readouterr().out


def test_walkthrough_names_each_missing_tool_with_its_debian_package(tmp_path, capsys):
    """Every walkthrough tool is named with what needs it and its package, and the run fails."""
    ctx = context(tmp_path)
    fake_python(tmp_path / "bin")
    status, out = run(["--for", "walkthrough"], ctx, capsys)
    assert status == 1
    for name in WALKTHROUGH:
        line = next(line for line in out.splitlines() if f" {name} " in f"{line} ")
        assert line.lstrip().startswith("MISSING"), line
    assert "needed by the README walkthrough" in out
    for package in ("apt-get install curl", "apt-get install jq", "apt-get install openssl"):
        assert package in out
    assert "apt-get install xxd" in out
    assert "cannot run: install curl, jq, openssl, xxd" in out


def test_tools_another_command_needs_are_named_but_do_not_fail_this_one(tmp_path, capsys):
    """With the walkthrough tools present, missing Java, Maven and PostgreSQL only warn."""
    ctx = context(tmp_path, *WALKTHROUGH)
    fake_python(tmp_path / "bin")
    status, out = run(["--for", "walkthrough"], ctx, capsys)
    assert status == 0, out
    for name in ("java", "mvn", "initdb"):
        assert any(line.split()[:2] == ["optional", name] for line in out.splitlines()), out
    assert "Not needed for it, but missing: initdb, pg_ctl, psql, java, mvn." in out


def test_make_test_needs_postgresql_server_binaries_java_and_maven(tmp_path, capsys):
    """`--for test` fails naming initdb, pg_ctl, psql, java and mvn with where they come from."""
    ctx = context(tmp_path, *WALKTHROUGH)
    fake_python(tmp_path / "bin")
    status, out = run(["--for", "test"], ctx, capsys)
    assert status == 1
    assert "cannot run: install initdb, pg_ctl, psql, java, mvn" in out
    assert "apt-get install postgresql-15" in out
    assert "openjdk-17-jdk-headless" in out
    assert "apt-get install maven" in out
    assert "needed by `make run DB=postgres`, `make test`" in out


def test_postgresql_binaries_are_found_in_a_versioned_server_folder(tmp_path, capsys):
    """initdb and pg_ctl under /usr/lib/postgresql/<n>/bin count even when not on PATH."""
    ctx = context(tmp_path, "java", "mvn")
    fake_python(tmp_path / "bin")
    fake_tool(tmp_path / "bin", "java", "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2")
    for name in POSTGRES:
        fake_tool(tmp_path / "pg" / "15" / "bin", name)
    (ctx.root / ".venv" / "bin").mkdir(parents=True)
    fake_tool(ctx.root / ".venv" / "bin", "python")
    status, out = run(["--for", "test"], ctx, capsys)
    assert status == 0, out
    assert f"ok       initdb        {tmp_path / 'pg' / '15' / 'bin' / 'initdb'}" in out


@pytest.mark.parametrize(
    ("banner", "major", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17, True),
        ('openjdk version "21" 2023-09-19', 21, True),
        ('openjdk version "11.0.22" 2024-01-16', 11, False),
        ('java version "1.8.0_392"', 8, False),
    ],
)
def test_java_must_be_17_or_newer(tmp_path, banner, major, ok):
    """The Java probe reads `java -version` (old 1.x numbering too) and wants 17 or newer."""
    ctx = context(tmp_path)
    fake_tool(tmp_path / "bin", "java", f"echo '{banner}' >&2")
    problem, found = doctor._java(ctx)
    assert (problem is None) is ok, problem
    if not ok:
        assert f"Java {major}, 17 or newer is needed" in problem
    else:
        assert found.startswith(f"Java {major} at ")


def test_make_run_fails_on_an_unsupported_python(tmp_path, capsys):
    """A Python outside 3.11-3.13 fails `--for run` and says which version it found."""
    ctx = context(tmp_path)
    fake_python(tmp_path / "bin", version="3.9")
    status, out = run(["--for", "run"], ctx, capsys)
    assert status == 1
    assert "python3 is 3.9, the project needs 3.11-3.13" in out


def test_make_run_needs_the_venv_module_only_until_dot_venv_exists(tmp_path, capsys):
    """Without venv/ensurepip `make run` fails naming python3-venv; an existing .venv suffices."""
    ctx = context(tmp_path)
    fake_python(tmp_path / "bin", venv=False)
    status, out = run(["--for", "run"], ctx, capsys)
    assert status == 1
    assert "cannot create a virtual environment" in out
    assert "install: apt-get install python3-venv" in out
    fake_tool(ctx.root / ".venv" / "bin", "python")
    status, out = run(["--for", "run", "--quiet"], ctx, capsys)
    assert status == 0, out


def test_quiet_says_nothing_when_everything_is_there(tmp_path, capsys):
    """`make run` stays quiet when all is present, so its banner is not buried."""
    ctx = context(tmp_path, *WALKTHROUGH, *POSTGRES, "mvn")
    fake_python(tmp_path / "bin")
    fake_tool(tmp_path / "bin", "java", "echo 'openjdk version \"17.0.1\"' >&2")
    status, out = run(["--quiet"], ctx, capsys)
    assert (status, out) == (0, "")


def test_command_line_reads_the_real_path(tmp_path):
    """`python -m scripts.doctor` looks tools up on $PATH: an empty PATH fails, naming python3."""
    result = subprocess.run(
        [sys.executable, "-m", "scripts.doctor", "--for", "run"],
        cwd=ROOT, env={"PATH": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MISSING  python3       python3 not found on PATH" in result.stdout
    assert "`make run` cannot run: install python3" in result.stdout


@pytest.mark.parametrize(
    ("command", "profile"),
    [(["run"], "--for run"), (["run", "DB=postgres"], "--for run --for postgres"),
     (["test"], "--for test")],
)  # fmt: skip
def test_make_runs_the_doctor_first_with_its_own_profile(command, profile):
    """`make run` and `make test` check their prerequisites before installing or starting."""
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", *command],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert "scripts.doctor" in lines[0] and lines[0].rstrip().endswith(profile), lines[0]
    assert lines[1].startswith("make") and ("install" in lines[1] or "lint" in lines[1]), lines
    assert any("scripts.run" in line or "pytest" in line for line in lines[2:]), lines


def test_make_names_a_missing_python_before_the_doctor_can_run():
    """Without the interpreter the doctor itself cannot start, so make says what to install."""
    result = subprocess.run(
        ["make", "--no-print-directory", "doctor", "PYTHON=attain-no-such-python"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "attain-no-such-python not found" in result.stderr
    assert "apt-get install python3 python3-venv" in result.stderr
