"""The notebook front door: charts that draw offline, readable tables, what-if and email controls.

`import recovery_sim` in a Jupyter kernel already switches altair to the offline renderer (unless a
renderer was chosen before); `offline_charts()` does it explicitly anywhere else.
"""

from recovery_sim.notebook.chart_display import chart_html, save
from recovery_sim.notebook.chart_display import enable as offline_charts
from recovery_sim.notebook.email_preview import (
    ASKING_TYPES,
    EmailPicker,
    EmailView,
    Received,
    email_picker,
    inbox,
    received,
    recovered_by_email,
    subjects,
    timeline,
)
from recovery_sim.notebook.figures import recovery_rate_by_cohort, recovery_rate_by_policy
from recovery_sim.notebook.panel import PolicyPanel, policy_panel
from recovery_sim.notebook.tables import Table, files, stats_table, table
from recovery_sim.notebook.whatif import WhatIf, describe, settings_for, what_if

__all__ = [
    "ASKING_TYPES",
    "chart_html",
    "describe",
    "email_picker",
    "EmailPicker",
    "EmailView",
    "files",
    "inbox",
    "offline_charts",
    "policy_panel",
    "PolicyPanel",
    "received",
    "Received",
    "recovered_by_email",
    "recovery_rate_by_cohort",
    "recovery_rate_by_policy",
    "save",
    "settings_for",
    "stats_table",
    "subjects",
    "Table",
    "table",
    "timeline",
    "what_if",
    "WhatIf",
]
