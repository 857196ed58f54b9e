"""The email-type table: one row per type, each column what the modules that read it actually do, and
docs/email-types.md in step with it. `UPDATE_DOCS=1 pytest tests/emails/test_email_types.py` rewrites
the doc's generated table.

What each column must hold per SPEC is proven in tests/domain/test_rules.py (R1, R3, R3b, R11a, R12, R13).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from recovery_sim.analysis.breakdowns import RECOVERY_EMAIL_TYPES
from recovery_sim.domain import rules
from recovery_sim.domain.email_types import BY_TYPE, TABLE, EmailTypeFacts, about
from recovery_sim.domain.enums import CollectionMethod, EmailType, RecipientKind
from recovery_sim.emails.context import EmailContext, check_required
from recovery_sim.emails.paths import EMAIL_TEMPLATES_DIR
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import ConfigError, Policy

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "email-types.md"
BEGIN, END = "<!-- table: generated from recovery_sim/domain/email_types.py -->", "<!-- end of table -->"
CHARGE = CollectionMethod.CHARGE_AUTOMATICALLY
ROWS = [pytest.param(row, id=row.email_type.value) for row in TABLE]


def test_table_has_every_type_once_in_enum_order():
    assert [row.email_type for row in TABLE] == list(EmailType)
    assert set(BY_TYPE) == set(EmailType)
    assert about("card_expiring") is BY_TYPE[EmailType.CARD_EXPIRING]
    with pytest.raises(ValueError):
        about("not_a_type")


@pytest.mark.parametrize("row", ROWS)
def test_rule_ids_are_rules_of_the_spec(row: EmailTypeFacts):
    traced = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert row.rules
    for rule in row.rules:
        assert f"| {rule} |" in traced, f"{rule} is not a row of docs/rules.md"


def test_each_switch_is_a_boolean_email_setting_and_each_setting_switches_a_type():
    switches = {row.switch for row in TABLE if row.switch is not None}
    fields = type(Policy().emails).model_fields
    settings = {name for name, field in fields.items() if field.annotation is bool}
    assert switches == {f"emails.{name}" for name in settings}


@pytest.mark.parametrize("row", ROWS)
def test_policy_sends_exactly_when_the_switch_is_on(row: EmailTypeFacts):
    everything_off = Policy.named("none")
    assert not rules.policy_sends(everything_off, row.email_type)
    if row.switch is None:
        assert not rules.policy_sends(Policy.named("all-on"), row.email_type)
    else:
        assert rules.policy_sends(everything_off.with_setting(row.switch, True), row.email_type)


@pytest.mark.parametrize("row", ROWS)
def test_rules_read_their_column(row: EmailTypeFacts):
    hosted = Policy().with_setting("links.subscription_management", "hosted")
    kind = row.email_type
    assert rules.carries_update_link(kind, CHARGE) is row.update_link
    assert rules.carries_management_link(hosted, kind, CHARGE) is row.management_link
    assert rules.logged([kind]) == ([kind] if row.logged else [])
    assert rules.delivered_in_test_mode(kind, RecipientKind.TEAM_MEMBER, test_mode=True) is row.test_mode
    trial_deadline = rules.link_live_until(kind, 10.0, 15.0) == 10.0 + rules.TRIAL_LINK_LIFETIME_DAYS
    assert trial_deadline is row.trial
    assert (kind in RECOVERY_EMAIL_TYPES) is row.asks_to_act
    assert rules.carries_invoice_link(kind, CollectionMethod.SEND_INVOICE) is row.invoice_link
    assert not rules.carries_invoice_link(kind, CHARGE)


@pytest.mark.parametrize("row", ROWS)
def test_recovery_emails_are_those_of_R4_to_R9(row: EmailTypeFacts):
    """The emails that ask the customer to act are exactly those the rules R4-R9 define."""
    acting_rules = re.compile(r"R[4-9](?![0-9])")
    assert row.asks_to_act is any(acting_rules.match(rule) for rule in row.rules)
    assert EmailType.PAYMENT_ACTION_REMINDER in RECOVERY_EMAIL_TYPES  # R8(2)
    assert EmailType.INVOICE_PAID not in RECOVERY_EMAIL_TYPES  # a receipt


@pytest.mark.parametrize("row", ROWS)
def test_required_facts_are_checked_before_rendering(row: EmailTypeFacts):
    sample = sample_context(row.email_type)
    check_required(row.email_type, sample)  # every sample case supplies what its type needs
    for name in row.required_facts:
        assert name in EmailContext.model_fields
        lacking = sample.model_copy(update={name: None})
        with pytest.raises(ConfigError, match=f"{row.email_type.value} emails need {name}"):
            check_required(row.email_type, lacking)


@pytest.mark.parametrize("row", ROWS)
def test_templates_exist(row: EmailTypeFacts):
    assert (EMAIL_TEMPLATES_DIR / row.html_template).is_file()
    text = (EMAIL_TEMPLATES_DIR / row.text_template).read_text(encoding="utf-8")
    assert all(f"block {name}" in text for name in ("subject", "preheader", "body"))


def markdown_table() -> str:
    """The table as docs/email-types.md shows it."""

    def mark(flag: bool) -> str:
        return "yes" if flag else "—"

    def code(names) -> str:
        return ", ".join(f"`{n}`" for n in names) or "—"

    head = (
        "| type | rules | switch (`Policy.…`) | update link (R3) | management link (R3b) | logged (R13) "
        "| test mode (R12) | trial link (R11a/c) | asks to act | invoice page (R5) | required facts "
        "| gallery note |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in TABLE:
        cells = [
            f"`{r.email_type.value}`",
            ", ".join(r.rules),
            code([r.switch] if r.switch else []),
            *(mark(f) for f in (r.update_link, r.management_link, r.logged, r.test_mode, r.trial)),
            mark(r.asks_to_act),
            mark(r.invoice_link),
            code(r.required_facts),
            r.gallery_note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_doc_shows_the_table():
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    assert pattern.search(text), f"{DOC.name} lacks the markers {BEGIN} … {END}"
    fresh = pattern.sub(lambda _: f"{BEGIN}\n{markdown_table()}\n{END}", text)
    if os.environ.get("UPDATE_DOCS") == "1":
        DOC.write_text(fresh, encoding="utf-8")
        text = DOC.read_text(encoding="utf-8")
    assert text == fresh, "docs/email-types.md is out of date; UPDATE_DOCS=1 rewrites its table"
