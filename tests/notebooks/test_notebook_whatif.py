"""The what-if notebook's controls drive the comparison: change a control, the CI table changes."""

from __future__ import annotations

from pathlib import Path

import nbformat
from notebook_support import execute, read_notebook, stream_text

DRIVE = """
before = state["table"]
assert before is not None and {"none", "what-if", "difference", "95% CI"} <= set(before.columns)
assert controls["preset"].value == "recommended-minimum" and not controls["emails.card_expiring"].value

controls["emails.card_expiring"].value = True  # what a click on the R9 switch does
after_switch = state["table"]
assert not after_switch.equals(before), "switching R9 on did not change the comparison table"
assert after_switch.equals(rerun(settings_now())[0]), "the table shown is not the one for the controls"

controls["emails.upcoming_renewal_days"].value = 30
controls["retries.max_attempts"].value = 2
after_retries = state["table"]
assert not after_retries.equals(after_switch), "fewer retries did not change the comparison table"

controls["preset"].value = "none"  # loads every switch from the shipped policy, then one re-run
assert not any(controls[key].value for key in EMAIL_SWITCHES)
emails = state["table"].filter(pl.col("metric") == "emails sent")
assert emails.height > 0 and set(emails["difference"]) == {"0.0"}, emails
print("widgets drive the table")
"""


def test_changing_a_control_reruns_the_comparison(kernel_name: str, small_run: Path):
    nb = read_notebook("02-policy-what-if")
    nb.cells.append(nbformat.v4.new_code_cell(DRIVE))
    execute(nb, kernel_name, small_run)
    assert "widgets drive the table" in stream_text(nb.cells[-1])
