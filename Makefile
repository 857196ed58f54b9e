# Every target bootstraps .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: setup demo test lint bench bench-quick lab gallery browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,notebooks]'
	$(BIN)/python -c 'from recovery_sim.simulation.compiled.driver import warm_up; warm_up()'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/recovery-sim report --out $(OUT)/report

test: $(STAMP)
	$(BIN)/ruff check recovery_sim tests benchmarks notebooks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check recovery_sim tests benchmarks notebooks
	$(BIN)/ruff format --check recovery_sim tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/sweep_bench.py
	$(BIN)/python benchmarks/import_bench.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/sweep_bench.py --quick
	$(BIN)/python benchmarks/import_bench.py --quick

# The notebooks' `python3` kernel is this venv's (installed into the venv, which Jupyter prefers over the
# user's kernels); "recovery-sim" is registered for other Jupyter installs. JupyterLab itself asks the
# internet nothing: no news feed, no update check, no extension catalogue. Charts bundle their Vega.
LAB_OFFLINE := --LabApp.news_url=None --LabApp.extension_manager=readonly \
	--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (recovery-sim)"
	$(BIN)/python -m ipykernel install --user --name recovery-sim --display-name "recovery-sim"
	$(BIN)/jupyter lab notebooks $(LAB_OFFLINE) $(if $(filter 0,$(shell id -u)),--allow-root)

# The gallery, then a PNG of every email (type × locale × brand, light and dark) under $(OUT)/gallery/png.
gallery: $(STAMP) browser
	$(BIN)/recovery-sim emails preview --out $(OUT)/gallery
	$(BIN)/python -m recovery_sim.emails.screenshots $(OUT)/gallery

browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
