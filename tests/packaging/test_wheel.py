"""A wheel built from this checkout, installed into a fresh venv, runs from a folder outside the checkout.

data/ and templates/ sit at the repository's top level, so only the build's mapping (pyproject.toml)
puts them inside the wheel; a wheel without them installs cleanly and fails on the first file it reads.
The new venv borrows this interpreter's dependencies through a plain path line, so nothing is downloaded
but the build backend, and none of the running venv's `.pth` hooks (its editable install) take part.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("pyproject.toml", "README.md", "recovery_sim", "data", "templates")
UNSHIPPED = ("__pycache__", "*.pyc", "*.mo")  # build products the checkout may hold (.gitignore)
WHERE_IT_RUNS = (
    "import json, recovery_sim, recovery_sim.resources as r; "
    "print(json.dumps({'package': recovery_sim.__file__, 'data': str(r.DATA_DIR), "
    "'templates': str(r.TEMPLATES_DIR)}))"
)


def _environment() -> dict[str, str]:
    """This process's environment without the checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # The installed copy compiles no kernel here: compiling takes longer than this whole test, and
    # the same Python code runs with numba off. The fast path's own tests cover the compiled kernel.
    env["NUMBA_DISABLE_JIT"] = "1"
    return env


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(work: Path) -> Path:
    """Build from a copy of the shipped files, so the checkout gets no build/ or egg-info folders."""
    source = work / "source"
    source.mkdir()
    for name in SHIPPED:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns(*UNSHIPPED))
        else:
            shutil.copy2(origin, source / name)
    wheels = work / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", wheels, source, cwd=work)
    (wheel,) = wheels.glob("recovery_sim-*.whl")
    return wheel


def _fresh_venv(work: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; the running venv's site-packages is appended as a bare path."""
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work)
    borrowed = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    Path(purelib.stdout.strip(), "borrowed-dependencies.pth").write_text("\n".join(borrowed) + "\n")
    pip = (sys.executable, "-m", "pip", "--python", python)
    _run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=work)
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the new venv, an empty working folder), both outside the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    assert not work.resolve().is_relative_to(ROOT)
    venv = _fresh_venv(work, _build_wheel(work))
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return venv, elsewhere


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _checkout_files(folder: str, pattern: str = "*") -> set[str]:
    base = ROOT / folder
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob(pattern)
        if p.is_file() and not any(p.match(u) or u in p.parts for u in UNSHIPPED)
    }


def test_the_installed_copy_is_what_runs_and_it_holds_every_shipped_file(installed) -> None:
    venv, elsewhere = installed
    where = json.loads(_run(venv / "bin" / "python", "-c", WHERE_IT_RUNS, cwd=elsewhere).stdout)
    package = Path(where["package"]).resolve().parent
    assert package.is_relative_to(venv.resolve()), f"ran {package}, not the installed copy"
    for folder in ("data", "templates"):
        located = Path(where[folder]).resolve()
        assert located.is_relative_to(package), f"{folder} found outside the installed package: {located}"
        assert _files(located) == _checkout_files(folder), f"{folder}/ differs from the checkout's"
    modules = {p for p in _files(package) if p.endswith(".py")}
    assert modules == _checkout_files("recovery_sim", "*.py"), "the wheel lacks some modules"


def test_run_outside_the_checkout_writes_frames(installed) -> None:
    venv, elsewhere = installed
    result = _run(venv / "bin" / "recovery-sim", "run", "--customers", "500", "--out", "run", cwd=elsewhere)
    assert "emails sent by type" in result.stdout
    out = elsewhere / "run"
    assert pl.read_parquet(out / "customers.parquet").height == 500
    for name in ("events", "emails", "invoices"):
        assert pl.read_parquet(out / f"{name}.parquet").height > 0
    assert set(pl.read_csv(out / "summary.csv")["currency"]) == {"EUR", "BRL"}  # the default scenario's


def test_emails_preview_outside_the_checkout_builds_the_gallery(installed) -> None:
    venv, elsewhere = installed
    _run(venv / "bin" / "recovery-sim", "emails", "preview", "--out", "gallery", cwd=elsewhere)
    gallery = elsewhere / "gallery"
    index = (gallery / "index.html").read_text(encoding="utf-8")
    assert "Northwind" in index  # a brand from data/branding
    pages = list(gallery.rglob("*.html"))
    assert len(pages) > 20, f"only {len(pages)} pages"
