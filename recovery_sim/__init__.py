"""recovery_sim: see what customer emails are worth before switching them on.

Simulate cohorts, card expiries and payment failures with SimPy, apply the notification rules a
subscription business would run (SPEC R1-R13), measure recovered revenue, and render the emails.
"""

from .api import Run, email_log, simulate, simulate_in_shards
from .config import ConfigError, Policy, Scenario
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

__all__ = [
    "CollectionMethod",
    "ConfigError",
    "DunningAction",
    "EmailType",
    "EventKind",
    "InvoiceStatus",
    "PaymentMethodKind",
    "Policy",
    "Run",
    "Scenario",
    "SubscriptionStatus",
    "email_log",
    "simulate",
    "simulate_in_shards",
    "summary",
]
