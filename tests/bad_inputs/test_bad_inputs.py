"""Every case of the bad-input catalogue (bad_input_cases.py) against the real CLI.

A case passes when the command exits with code 2, prints each expected fragment (naming the file, the
field or the line), prints no traceback, and touches nothing: its folder holds exactly the files the
case wrote, with the same bytes and modification times, and the `--out` path does not exist.

Cases run the console entry point `recovery_sim.cli.main()` with the process's argv, stdout and stderr
swapped (the exit code is the `SystemExit` it raises; an escaping exception counts as a traceback and
exit code 1, as the interpreter would make it). Starting one interpreter per case would cost seconds
each; `test_in_process_equals_subprocess` runs a sample of cases in a real
`python -m recovery_sim.cli` subprocess and checks the exit code and stderr are the same. Set
BAD_INPUTS_SUBPROCESS=1 to run every case in a subprocess.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_input_cases import CASES, STRIPE_SAMPLE, Case, by_id, errors_doc

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "recovery_sim.cli"]
BOX = re.compile(r"[│╭╮╰╯─]")
USAGE = re.compile(r"Usage: .*? Try '.*?' for help\. ")
COLUMNS = "160"
SUBPROCESS = os.environ.get("BAD_INPUTS_SUBPROCESS") == "1"
CROSS_CHECKED = [
    "scenario-unknown-field", "scenario-directory", "policy-not-utf8", "cli-months-99", "cli-sweep-bad-value",
    "emails-unknown-brand", "template-sandbox-escape", "stripe-csv-columns", "out-run-under-a-file",
]  # fmt: skip


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@functools.cache
def mounted() -> set[str]:
    """Sub-commands of the CLI as shipped (the Stripe commands may not be mounted yet)."""
    import typer

    from recovery_sim.cli.app import app

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def in_subprocess(args: list[str], cwd: Path) -> Outcome:
    env = {**os.environ, "COLUMNS": COLUMNS, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    return Outcome(result.returncode, result.stdout, result.stderr)


def stripe_harness() -> None:
    """The Stripe sub-commands on an app of their own, for as long as the CLI does not mount them."""
    import typer

    from recovery_sim.cli.stripe import register

    app = typer.Typer(add_completion=False)
    app.callback()(lambda: None)
    register(app)
    app()


def in_process(args: list[str], cwd: Path, entry: str = "main") -> Outcome:
    """`recovery-sim ARGS` through the console entry point, in this process."""
    os.environ["COLUMNS"] = COLUMNS  # read by rich when the CLI's consoles are created
    from recovery_sim.cli import app as cli

    main = cli.main if entry == "main" else stripe_harness
    stdout, stderr = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    argv, here = sys.argv, Path.cwd()
    try:
        sys.argv = ["recovery-sim", *args]
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code
            except BaseException:  # what the interpreter would print, and its exit code
                stderr.write(traceback.format_exc())
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
    if not isinstance(code, int):
        stderr.write(f"{code}\n")
        code = 1
    return Outcome(code, stdout.getvalue(), stderr.getvalue())


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every path under `folder` with a digest of its bytes (or 'dir') and its mtime in ns."""
    out = {}
    for path in sorted(folder.rglob("*")):
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(folder))] = (digest, path.stat().st_mtime_ns)
    return out


def flat(text: str) -> str:
    """The output as one line: box borders dropped and whitespace collapsed, so wrapping does not matter."""
    return " ".join(BOX.sub(" ", text).split())


def setup(case: Case, tmp: Path) -> list[str]:
    for relative, content in case.files.items():
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.prepare is not None:
        case.prepare(tmp)
    return [a.replace("{tmp}", str(tmp)) for a in case.args]


def check(case: Case, tmp: Path, outcome: Outcome, before: dict, after: dict) -> None:
    output = outcome.stdout + outcome.stderr
    assert "Traceback" not in output, output
    assert outcome.returncode == 2, output
    message = flat(outcome.stderr)
    for fragment in case.expect:
        assert flat(fragment.replace("{tmp}", str(tmp))) in message, (fragment, outcome.stderr)
    assert after == before, "the command touched files"
    if case.out is not None:
        assert not (tmp / case.out).exists()
    if case.keep is not None:
        assert after[case.keep] == before[case.keep]


def skip_unmounted(case: Case) -> None:
    if case.needs and case.needs not in mounted():
        pytest.skip(f"`recovery-sim {case.needs}` is not mounted on the CLI")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    if case.prepare is not None and not STRIPE_SAMPLE.is_dir():
        pytest.skip("the Stripe sample export is not in tests/fixtures")
    args = setup(case, tmp_path)
    before = snapshot(tmp_path)
    if case.needs and case.needs not in mounted():  # not on the CLI yet: the sub-app on its own
        outcome = in_process(args, tmp_path, entry="stripe")
    else:
        outcome = (in_subprocess if SUBPROCESS else in_process)(args, tmp_path)
    check(case, tmp_path, outcome, before, snapshot(tmp_path))


@pytest.mark.parametrize("case_id", CROSS_CHECKED)
def test_in_process_equals_subprocess(case_id: str, tmp_path: Path) -> None:
    """The in-process runner reports what the real process does: same exit code, same stderr."""
    case = by_id()[case_id]
    skip_unmounted(case)
    args = setup(case, tmp_path)
    before = snapshot(tmp_path)
    real = in_subprocess(args, tmp_path)
    check(case, tmp_path, real, before, snapshot(tmp_path))
    here = in_process(args, tmp_path)
    assert here.returncode == real.returncode
    assert USAGE.sub("", flat(here.stderr) + " ") == USAGE.sub("", flat(real.stderr) + " ")


def test_catalogue_is_large_and_unique() -> None:
    assert len(by_id()) == len(CASES) >= 40
    for case in CASES:
        assert case.expect, case.id
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", case.id), case.id


def test_errors_doc_is_generated_from_the_catalogue() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for case in CASES:
        assert f"| `{case.id}` |" in doc, f"docs/errors.md does not list {case.id}"
    reliability = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert f"| {len(CASES)} |" in reliability, "docs/reliability.md gives another number of cases"
    assert doc == errors_doc(), (
        "docs/errors.md is stale: run .venv/bin/python tests/bad_inputs/bad_input_cases.py"
    )
