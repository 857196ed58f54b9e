"""recovery_sim: see what customer emails are worth before switching them on.

Simulate cohorts, card expiries and payment failures with SimPy, apply the notification rules a
subscription business would run (SPEC R1-R13), measure recovered revenue, and render the emails.
"""

import sys

from recovery_sim.analysis.metrics import summary
from recovery_sim.api import Run, email_log, simulate, simulate_in_shards
from recovery_sim.domain.declines import DeclineCode, decline_codes
from recovery_sim.domain.enums import (
    Actor,
    CollectionMethod,
    DunningAction,
    EmailType,
    EventKind,
    InvoiceStatus,
    PaymentMethodKind,
    PlanInterval,
    RecipientKind,
    SubscriptionStatus,
)
from recovery_sim.domain.money import format_money
from recovery_sim.domain.rules import UPDATE_LINK_TYPES
from recovery_sim.emails import (
    Branding,
    EmailContext,
    RenderedEmail,
    TemplateProblem,
    render_email,
    sample_context,
    shipped_brand_names,
    sign_link,
    verify_link,
)
from recovery_sim.emails.gallery import build_gallery
from recovery_sim.emails.replay import context_from_log
from recovery_sim.experiments.compare import Comparison, compare
from recovery_sim.experiments.executors import InlineExecutor, open_executor
from recovery_sim.experiments.sensitivity import Sensitivity, sensitivity
from recovery_sim.experiments.sweep import load_sweep, sweep
from recovery_sim.settings.config import (
    RENEWAL_REMINDER_DAYS,
    SUPPORTED_LOCALES,
    ConfigError,
    Policy,
    Scenario,
)
from recovery_sim.settings.evidence import Evidence, load_evidence
from recovery_sim.stripe.calibrate import Calibration
from recovery_sim.stripe.calibrate import fit as fit_scenario
from recovery_sim.stripe.errors import StripeImportError
from recovery_sim.stripe.export import export_run, export_stripe
from recovery_sim.stripe.history import ImportedHistory
from recovery_sim.stripe.importer import import_stripe
from recovery_sim.stripe.replay import Replay, replay, replay_report


def __getattr__(name: str):
    """`build_report`, `charts` and `notebook` load the chart stack (altair) only when first used."""
    if name == "build_report":
        from recovery_sim.analysis.report import build_report

        return build_report
    if name == "charts":
        from recovery_sim.analysis import charts

        return charts
    if name == "notebook":
        import recovery_sim.notebook as notebook

        return notebook
    raise AttributeError(f"module 'recovery_sim' has no attribute {name!r}")


__all__ = [
    "Actor",
    "Branding",
    "build_gallery",
    "build_report",
    "Calibration",
    "charts",
    "CollectionMethod",
    "compare",
    "Comparison",
    "ConfigError",
    "context_from_log",
    "decline_codes",
    "DeclineCode",
    "DunningAction",
    "email_log",
    "EmailContext",
    "EmailType",
    "EventKind",
    "Evidence",
    "export_run",
    "export_stripe",
    "fit_scenario",
    "format_money",
    "import_stripe",
    "ImportedHistory",
    "InlineExecutor",
    "InvoiceStatus",
    "load_evidence",
    "load_sweep",
    "notebook",
    "open_executor",
    "PaymentMethodKind",
    "PlanInterval",
    "Policy",
    "RecipientKind",
    "render_email",
    "RenderedEmail",
    "RENEWAL_REMINDER_DAYS",
    "replay",
    "Replay",
    "replay_report",
    "Run",
    "sample_context",
    "Scenario",
    "sensitivity",
    "Sensitivity",
    "shipped_brand_names",
    "sign_link",
    "simulate",
    "simulate_in_shards",
    "StripeImportError",
    "SubscriptionStatus",
    "summary",
    "SUPPORTED_LOCALES",
    "sweep",
    "TemplateProblem",
    "UPDATE_LINK_TYPES",
    "verify_link",
]


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


if _in_jupyter_kernel():  # charts must draw with no network: altair's default loads Vega from a CDN
    from recovery_sim.notebook.chart_display import enable_in_notebook

    enable_in_notebook()
