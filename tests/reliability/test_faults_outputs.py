"""Faults in outputs: --out paths that cannot be written, a disk that fills or refuses mid-write, an
exception inside the atomic writer's callback, and writer processes killed at random instants.
The command exits 2 with a message naming the path; nothing partial is ever left under a final name,
a set of files that belongs together lands whole or not at all, and no temporary survives a failure
the process lived through.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from fault_helpers import CRASH_WRITER

from recovery_sim import atomic
from recovery_sim.cli import app as cli

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------- outputs that cannot land


def call_main(args: list[str], cwd: Path) -> tuple[int, str]:
    """The console entry point in this process (so writers can be monkeypatched): exit code, all output."""
    out, argv, here = io.StringIO(), sys.argv, Path.cwd()
    code: int | str | None = 0
    try:
        sys.argv = ["recovery-sim", *args]
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                cli.main()
            except SystemExit as exit_:
                code = exit_.code
    finally:
        sys.argv, _ = argv, os.chdir(here)
    return (code if isinstance(code, int) else 1), out.getvalue()


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


RUN = ["run", "--customers", "60", "--months", "2"]


def test_out_under_a_regular_file(tmp_path) -> None:
    """ENOTDIR (works as root, where permission bits do not stop writes): exit 2, the file untouched."""
    blocker = tmp_path / "report.txt"
    blocker.write_text("keep me\n", encoding="utf-8")
    before = blocker.stat().st_mtime_ns
    commands = [
        [*RUN, "--out", f"{blocker}/run"],
        ["emails", "render", "payment_failed", "--out", f"{blocker}/email.html"],
        ["emails", "preview", "--locale", "en", "--type", "payment_failed", "--out", f"{blocker}/gallery"],
    ]
    for args in commands:
        code, output = call_main(args, tmp_path)
        assert code == 2, output
        assert "Traceback" not in output
        assert str(blocker) in output and "cannot write" in output, output
    assert blocker.read_text(encoding="utf-8") == "keep me\n" and blocker.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


@pytest.mark.parametrize("command", ["compare", "sweep", "report"])
def test_experiment_out_under_a_regular_file(tmp_path, command) -> None:
    """compare / sweep / report --out under a regular file: exit 2 naming the path, nothing written."""
    blocker = tmp_path / "report.txt"
    blocker.write_text("keep me\n", encoding="utf-8")
    extra = ["--grid", "retries.max_attempts=2,3"] if command == "sweep" else ["-p", "none", "-p", "all-on"]
    args = [command, "--customers", "30", "--months", "2", "-r", "1", "--workers", "1", *extra,
            "--out", f"{blocker}/out"]  # fmt: skip
    code, output = call_main(args, tmp_path)
    assert code == 2 and "Traceback" not in output, output
    assert f"{blocker}/out" in output and "cannot write" in output
    assert blocker.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_compare_disk_full_writes_none_of_its_files(tmp_path, monkeypatch) -> None:
    real, calls = pl.DataFrame.write_parquet, []

    def flaky(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", flaky)
    args = ["compare", "-p", "none", "-p", "all-on", "--customers", "30", "--months", "2", "-r", "1",
            "--workers", "1", "--out", "out"]  # fmt: skip
    code, output = call_main(args, tmp_path)
    assert code == 2 and "No space left on device" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_out_under_proc(tmp_path) -> None:
    """/proc refuses new entries even to root."""
    code, output = call_main([*RUN, "--out", "/proc/recovery-sim-out"], tmp_path)
    assert code == 2 and "Traceback" not in output
    assert "/proc/recovery-sim-out" in output and "cannot write" in output
    assert not Path("/proc/recovery-sim-out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits; ENOTDIR and ENOSPC cover it")
def test_out_in_a_read_only_folder(tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, output = call_main([*RUN, "--out", f"{folder}/run"], tmp_path)
    finally:
        folder.chmod(0o755)
    assert code == 2 and "Traceback" not in output and "cannot write" in output
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(("failing_call", "error"), [(1, errno.ENOSPC), (3, errno.ENOSPC), (4, errno.EACCES)])
def test_disk_full_or_refused_mid_run(tmp_path, monkeypatch, failing_call, error) -> None:
    """The n-th Parquet write writes half its bytes and fails: exit 2, no file of the set, no folder."""
    real = pl.DataFrame.write_parquet
    calls = []

    def flaky(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == failing_call:
            Path(file).write_bytes(b"PAR1" + b"\0" * 1000)  # half a file in the temporary
            raise OSError(error, os.strerror(error), str(file))
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", flaky)
    code, output = call_main([*RUN, "--out", "out/run"], tmp_path)
    assert code == 2, output
    assert "Traceback" not in output and os.strerror(error) in output
    assert not (tmp_path / "out").exists()  # the folder it created is gone too
    assert not leftovers(tmp_path)


def test_disk_full_with_existing_outputs_keeps_them(tmp_path, monkeypatch) -> None:
    """A second run into the same folder that fails leaves the first run's files exactly as they were."""
    code, output = call_main([*RUN, "--out", "run"], tmp_path)
    assert code == 0, output
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "run").iterdir()}

    def full(self, file, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    code, output = call_main([*RUN, "--seed", "8", "--out", "run"], tmp_path)
    assert code == 2 and "No space left on device" in output
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "run").iterdir()}
    assert after == before


def test_gallery_disk_full_leaves_no_partial_page(tmp_path, monkeypatch) -> None:
    """emails preview: a write failing on the 5th page leaves no page, no temporary, no folder."""
    real = os.fsync
    calls = []

    def flaky(fd):
        calls.append(fd)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", flaky)
    code, output = call_main(["emails", "preview", "--locale", "en", "--out", "gallery"], tmp_path)
    assert code == 2 and "No space left on device" in output and "Traceback" not in output
    assert not leftovers(tmp_path)
    assert not (tmp_path / "gallery").exists()  # all pages or none: no half-gallery either


# ----------------------------------------------------------------------------- writes interrupted in-process


class Boom(Exception):
    pass


@pytest.mark.parametrize("interrupt", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_interrupted_atomic_write(tmp_path, interrupt, existing) -> None:
    """An exception inside the writer's callback: the final name holds the old bytes or nothing, and no
    temporary is left (atomic.atomic_write, atomic.write_all, atomic.write_parquet)."""
    target = tmp_path / "out" / "frame.parquet"
    if existing:
        atomic.write_text("previous\n", target)
    before = target.read_bytes() if existing else None

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"PAR1 half a file")
        raise interrupt()

    with pytest.raises(interrupt):
        atomic.atomic_write(target, half_then_fail)
    with pytest.raises(interrupt):
        atomic.write_all(
            {tmp_path / "out" / "a.csv": lambda tmp: tmp.write_text("a"), target: half_then_fail}
        )
    assert not (tmp_path / "out" / "a.csv").exists()

    class Exploding(pl.DataFrame):
        def write_parquet(self, file, *args, **kwargs):  # type: ignore[override]
            half_then_fail(Path(file))

    with pytest.raises(interrupt):
        atomic.write_parquet(Exploding({"x": [1, 2, 3]}), target)
    assert (target.read_bytes() if target.exists() else None) == before
    assert not leftovers(tmp_path)
    if not existing:
        assert not (tmp_path / "out" / "a.csv").exists() and not target.exists()


def test_failed_fsync_writes_nothing(tmp_path, monkeypatch) -> None:
    """atomic.write_text (what `emails render --out` uses): a failed fsync leaves neither the file, nor
    its temporary, nor the folder the call created."""

    def fail(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(OSError):
        atomic.write_text("<html></html>", tmp_path / "emails" / "email.html")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("delay", [0.3, 1.2])
def test_writer_killed_at_random_instants_leaves_only_whole_files(tmp_path, delay) -> None:
    """SIGKILL a process rewriting Parquet and HTML files: every file under a final name is whole."""
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
    finally:
        proc.kill()
        proc.wait()
    finals = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    for path in finals:
        if path.suffix == ".parquet":
            assert pl.read_parquet(path).height >= 100_000, path
        else:
            assert path.read_text(encoding="utf-8").endswith("</body></html>\n"), path
    assert all(p.name.endswith(".tmp") for p in tmp_path.iterdir() if p.name.startswith("."))


STRIPE_SAMPLE = ROOT / "tests" / "fixtures" / "stripe" / "sample"


@pytest.mark.skipif(not STRIPE_SAMPLE.is_dir(), reason="no Stripe sample export in tests/fixtures")
def test_stripe_import_disk_full_writes_nothing(tmp_path, monkeypatch) -> None:
    """import stripe --out --calibrate: the second Parquet file fails; neither the fitted scenario nor
    any Parquet file is left, nor the folders."""
    real, calls = pl.DataFrame.write_parquet, []

    def flaky(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", flaky)
    args = ["import", "stripe", str(STRIPE_SAMPLE), "--out", "out/history", "--calibrate", "fit/fitted.toml"]
    code, output = call_main(args, tmp_path)
    assert code == 2 and "No space left on device" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_stripe_export_disk_full_writes_nothing(tmp_path, monkeypatch) -> None:
    """export stripe: a write failing on the third file leaves no file of the export and no folder."""
    real, calls = Path.write_text, []

    def flaky(self, data, *args, **kwargs):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", flaky)
    code, output = call_main(["export", "stripe", "--customers", "40", "--months", "2", "--out", "export"],
                             tmp_path)  # fmt: skip
    assert code == 2 and "No space left on device" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []
