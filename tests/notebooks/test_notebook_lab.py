"""`make lab` works: a real JupyterLab server starts on the notebooks folder and serves its page."""

from __future__ import annotations

from pathlib import Path

from lab_support import get, jupyter_lab
from notebook_support import NOTEBOOKS


def test_jupyterlab_serves_the_notebooks(tmp_path: Path):
    with jupyter_lab(NOTEBOOKS, tmp_path) as lab:
        status, listing = get(lab.page("api/contents"))
        assert status == 200 and "01-quickstart.ipynb" in listing
