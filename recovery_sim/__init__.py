"""recovery_sim: see what customer emails are worth before switching them on.

Simulate cohorts, card expiries and payment failures with SimPy, apply the notification rules a
subscription business would run (SPEC R1-R13), measure recovered revenue, and render the emails.
"""

from .api import Run, email_log, simulate, simulate_in_shards
from .calibrate import Calibration
from .calibrate import fit as fit_scenario
from .config import ConfigError, Policy, Scenario
from .emails import (
    Branding,
    EmailContext,
    RenderedEmail,
    TemplateProblem,
    render_email,
    sample_context,
    sign_link,
    verify_link,
)
from .experiment import Comparison, InlineExecutor, compare, load_sweep, open_executor, sweep
from .gallery import build_gallery
from .metrics import summary
from .model import (
    CollectionMethod,
    DunningAction,
    EmailType,
    EventKind,
    InvoiceStatus,
    PaymentMethodKind,
    SubscriptionStatus,
)
from .replay import Replay, replay, replay_report
from .stripe_export import export_run, export_stripe
from .stripe_import import ImportedHistory, StripeImportError, import_stripe


def __getattr__(name: str):
    """`build_report` loads the chart stack (altair) only when first used."""
    if name == "build_report":
        from .report import build_report

        return build_report
    raise AttributeError(f"module 'recovery_sim' has no attribute {name!r}")


__all__ = [
    "Branding",
    "build_gallery",
    "build_report",
    "Calibration",
    "CollectionMethod",
    "compare",
    "Comparison",
    "ConfigError",
    "DunningAction",
    "email_log",
    "EmailContext",
    "EmailType",
    "EventKind",
    "export_run",
    "export_stripe",
    "fit_scenario",
    "import_stripe",
    "ImportedHistory",
    "InlineExecutor",
    "InvoiceStatus",
    "load_sweep",
    "open_executor",
    "PaymentMethodKind",
    "Policy",
    "render_email",
    "RenderedEmail",
    "Replay",
    "replay",
    "replay_report",
    "Run",
    "sample_context",
    "Scenario",
    "sign_link",
    "simulate",
    "simulate_in_shards",
    "StripeImportError",
    "SubscriptionStatus",
    "summary",
    "sweep",
    "TemplateProblem",
    "verify_link",
]
