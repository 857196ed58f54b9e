"""The what-if notebook's controls drive the comparison: change a control, the shown result changes."""

from __future__ import annotations

from pathlib import Path

import nbformat
from notebook_support import execute, read_notebook, stream_text

DRIVE = """
import polars as pl

controls = panel.controls
before = panel.table
assert before is not None and {"none", "what-if", "difference", "95% CI"} <= set(before.columns)
assert controls["preset"].value == "recommended-minimum" and not controls["emails.card_expiring"].value

controls["emails.card_expiring"].value = True  # what a click on the R9 switch does
after_switch = panel.table
assert not after_switch.equals(before), "switching R9 on did not change the comparison table"
assert after_switch.equals(panel.rerun().table), "the table shown is not the one for the controls"
assert "R9 card expiring on" in rs.notebook.describe(panel.result.settings)

controls["emails.upcoming_renewal_days"].value = 30
controls["retries.max_attempts"].value = 2
after_retries = panel.table
assert not after_retries.equals(after_switch), "fewer retries did not change the comparison table"

shown_currency = panel.result.currency
other = next(c for c in panel.result.comparison.currencies if c != shown_currency)
result_before = panel.result
controls["currency"].value = other  # only what is shown: the same comparison, another currency
assert panel.result.comparison is result_before.comparison
assert set(panel.table["currency"]) == {other}, panel.table
controls["currency"].value = shown_currency
assert panel.table.equals(after_retries)

controls["preset"].value = "none"  # loads every switch from the shipped policy, then one re-run
assert not any(controls[key].value for key in rs.notebook.whatif.EMAIL_SWITCHES)
emails = panel.table.filter(pl.col("metric") == "emails sent")
assert emails.height > 0 and set(emails["difference"]) == {"0.0"}, emails
print("widgets drive the table")
"""


def _result_html(nb: nbformat.NotebookNode) -> str:
    """The panel's result output (an ordinary display, updated in place) as the notebook saved it."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.rstrip().endswith("panel"))
    shown = [
        o for o in cell.outputs if "text/html" in o.get("data", {}) and "Settings:" in o["data"]["text/html"]
    ]
    assert len(shown) == 1, [o.get("data", {}).keys() for o in cell.outputs]
    return shown[0]["data"]["text/html"]


def test_changing_a_control_reruns_the_comparison(kernel_name: str, small_run: Path):
    nb = read_notebook("02-policy-what-if")
    nb.cells.append(nbformat.v4.new_code_cell(DRIVE))
    execute(nb, kernel_name, small_run)
    assert "widgets drive the table" in stream_text(nb.cells[-1])
    saved = _result_html(nb)  # what an export shows: the last result, with the settings behind it
    assert "none with R9 card expiring" not in saved and "Settings:</b> none" in saved
    assert "rs-chart" in saved and "rs-table" in saved
