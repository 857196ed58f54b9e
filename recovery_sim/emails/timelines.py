"""Customer timelines for the gallery: sampled customers of a simulation run, every email they received
in order among the events of their case, each email rendered from the facts the logs hold.

Times are the customer's (R7b: their zone, else the account's), with the zone named. Renewals that
were paid at the first attempt fold into one row, so the cases that need attention stand out, and the
dunning emails carry their step (attempt n of N, the final notice, the end) so escalation shows.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
from jinja2.sandbox import SandboxedEnvironment

from recovery_sim.domain import rules
from recovery_sim.domain.enums import Actor, EmailType, EventKind
from recovery_sim.emails.branding import Branding
from recovery_sim.emails.links import SigningKey
from recovery_sim.emails.render import render_email
from recovery_sim.emails.replay import (
    CUSTOMER_COLUMNS,
    EMAIL_COLUMNS,
    EVENT_COLUMNS,
    PLACEHOLDER_NOTE,
    check_columns,
    context_from_log,
)
from recovery_sim.emails.site import money_en, rel, root
from recovery_sim.settings.config import ConfigError, Policy


@dataclass(frozen=True, slots=True)
class Timelines:
    """The three frames of a simulation run that timelines are drawn from."""

    emails: pl.DataFrame
    events: pl.DataFrame
    customers: pl.DataFrame

    @classmethod
    def of(cls, run: Any) -> Timelines:
        """Anything with `.emails`, `.events` and `.customers` frames (a simulation `Run`)."""
        if isinstance(run, Timelines):
            return run
        try:
            data = cls(run.emails, run.events, run.customers)
        except AttributeError as exc:
            raise ConfigError("timelines need a run with emails, events and customers frames") from exc
        check_columns(data.emails, EMAIL_COLUMNS, "emails")
        check_columns(data.events, EVENT_COLUMNS, "events")
        check_columns(data.customers, CUSTOMER_COLUMNS, "customers")
        return data


def read_run(folder: str | Path) -> Timelines:
    """The frames `recovery-sim run --out DIR` wrote (emails, events and customers parquet files)."""
    folder = Path(folder)
    frames = {}
    for name in ("emails", "events", "customers"):
        path = folder / f"{name}.parquet"
        try:
            frames[name] = pl.read_parquet(path)
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path}: not found; write a run with `recovery-sim run --out {folder}`"
            ) from exc
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ConfigError(f"{path}: not a readable parquet file: {exc}") from exc
    return Timelines.of(SimpleNamespace(**frames))


def sample_customers(emails: pl.DataFrame, n: int, seed: int = 0) -> list[int]:
    """Customers who received email, chosen to show every email type: for each type, rarest first, the
    customer with the most varied inbox who got it; then a seeded random fill. Returned in id order."""
    if emails.is_empty() or n <= 0:
        return []
    pairs = emails.select(pl.col("email_type").cast(pl.String), "customer_id").unique()
    variety = pairs.group_by("customer_id").agg(pl.len().alias("variety"))
    ranked = pairs.join(variety, on="customer_id").sort(["variety", "customer_id"], descending=[True, False])
    rarity = pairs.group_by("email_type").agg(pl.len().alias("n")).sort("n", "email_type")
    picked: list[int] = []
    for email_type in rarity["email_type"]:
        if len(picked) >= n:
            break
        candidates = ranked.filter(pl.col("email_type") == email_type)["customer_id"].to_list()
        if not any(c in picked for c in candidates):
            picked.append(int(candidates[0]))
    rest = sorted({int(c) for c in pairs["customer_id"].unique()} - set(picked))
    random.Random(seed).shuffle(rest)
    picked.extend(rest[: max(0, n - len(picked))])
    return sorted(picked)


ROUTINE_EVENTS = {
    EventKind.INVOICE_CREATED.value,
    EventKind.PAYMENT_SUCCEEDED.value,
    EventKind.INVOICE_PAID.value,
}
ROUTINE_EMAILS = {EmailType.INVOICE_FINALIZED.value, EmailType.INVOICE_PAID.value}
TROUBLE = {
    EventKind.PAYMENT_FAILED.value,
    EventKind.PAYMENT_ACTION_REQUIRED.value,
    EventKind.PAYMENT_EXPIRED.value,
    EventKind.INVOICE_UNCOLLECTIBLE.value,
}


def _at(moment: dt.datetime | None, timezone: str = "UTC") -> str:
    """`2026-03-02 10:30 CET`: the instant where the customer is, with the zone's abbreviation."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _routine_invoices(events: list[dict[str, Any]]) -> set[Any]:
    """Invoices paid at the first attempt with nothing going wrong: their rows fold away."""
    troubled = {e["invoice_id"] for e in events if str(e["kind"]) in TROUBLE}
    paid = {
        e["invoice_id"]
        for e in events
        if str(e["kind"]) == EventKind.INVOICE_PAID.value and str(e.get("actor") or "") == Actor.SYSTEM.value
    }
    return paid - troubled - {None}


def _event_row(event: dict[str, Any], timezone: str, routine: set[Any]) -> dict[str, Any]:
    parts = (
        money_en(event.get("amount"), event.get("currency")) if event.get("amount") else "",
        f"decline: {event['decline_code']}" if event.get("decline_code") else "",
        f"invoice {event['invoice_id']}" if event.get("invoice_id") is not None else "",
        f"by {event['actor']}" if event.get("actor") else "",
    )
    return {
        "at": _at(event["at"], timezone),
        "day": f"{event['time']:.2f}",
        "what": str(event["kind"]),
        "details": ", ".join(p for p in parts if p),
        "email": False,
        "href": None,
        "level": "",
        "routine": str(event["kind"]) in ROUTINE_EVENTS and event.get("invoice_id") in routine,
    }


@dataclass(frozen=True, slots=True)
class _Renderer:
    branding: Branding
    policy: Policy
    key: SigningKey


def _step(kind: EmailType, context: Any) -> tuple[str, str]:
    """Where the email stands in an escalation: a label and a level (1 notice, 2 retry, 3 final)."""
    if kind is EmailType.FINAL_NOTICE:
        return "final notice", "3"
    if kind is EmailType.SUBSCRIPTION_CANCELED:
        return "end of dunning" if context and context.cancellation_reason == "payment_failed" else "", "3"
    if kind is not EmailType.PAYMENT_FAILED or context is None or context.attempt is None:
        return "", ""
    total = f" of {context.attempts_allowed}" if context.attempts_allowed else ""
    label = f"attempt {context.attempt}{total}" + (", the last" if context.is_last_attempt else "")
    level = "3" if context.is_last_attempt else "2" if context.attempt > 1 else "1"
    return label, level


def _email_row(
    email: dict[str, Any],
    n: int,
    customer: dict[str, Any],
    events: list[dict[str, Any]],
    how: _Renderer,
    timezone: str,
    routine: set[Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The timeline row of one sent email and the rendered email file it links to."""
    customer_id = customer["customer_id"]
    kind = EmailType(str(email["email_type"]))
    page = f"timelines/customer-{customer_id}.html"
    target = f"timelines/customer-{customer_id}/{n:02d}-{kind.value}.email.html"
    files: dict[str, str] = {}
    context = None
    try:
        context = context_from_log(email, customer, events, policy=how.policy, branding=how.branding)
        locale = email.get("locale") or customer.get("locale") or "en"
        rendered = render_email(kind, context, locale, how.branding, how.policy, key=how.key)
        files[target] = rendered.html
        what, href = f"{kind.value}: {rendered.subject}", rel(page, target)
    except ConfigError as exc:  # the log lacks a fact this email needs: say so rather than guess
        what, href = f"{kind.value} (not rendered: {exc})", None
    live = _at(email.get("link_live_until"), timezone)
    link = f"link live until {live}" if email["link_included"] else "no link"
    delivered = "delivered" if email["delivered"] else "not delivered (test mode, R12)"
    step, level = _step(kind, context)
    row = {
        "at": _at(email["sent_at"], timezone),
        "day": f"{email['time']:.2f}",
        "what": what,
        "details": "; ".join(p for p in (step, link, delivered) if p),
        "email": True,
        "href": href,
        "level": level,
        "routine": kind.value in ROUTINE_EMAILS and email.get("invoice_id") in routine,
    }
    return row, files


def fold_routine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of routine rows (renewals paid at the first attempt, their invoices and receipts) become
    one group each: `{"group": True, "rows": [...], "summary": ...}`; other rows pass through."""
    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []

    def close() -> None:
        if len(run) > 1:
            paid = sum(1 for r in run if not r["email"] and r["what"] == EventKind.INVOICE_PAID.value)
            receipts = sum(1 for r in run if r["email"])
            summary = f"{paid} renewal(s) paid at the first attempt, {receipts} routine email(s)"
            out.append({"group": True, "rows": list(run), "summary": summary, "first": run[0]["at"],
                        "last": run[-1]["at"]})  # fmt: skip
        else:
            out.extend(run)
        run.clear()

    for row in rows:
        if row["routine"]:
            run.append(row)
            continue
        close()
        out.append(row)
    close()
    return out


def _facts(customer: dict[str, Any], email_count: int, timezone: str) -> list[tuple[str, str]]:
    price = money_en(customer.get("price"), customer.get("currency"))
    interval = f" / {customer['interval']}" if customer.get("interval") else ""
    zone = customer.get("timezone") or f"none: times below are the account's, {timezone} (R7b)"
    facts = [
        ("Cohort", customer.get("cohort")),
        ("Plan", f"{customer.get('plan')} ({price}{interval})"),
        ("Locale / time zone", f"{customer.get('locale')} / {zone}"),
        ("Name and email address in the emails", PLACEHOLDER_NOTE),
        ("Collection method", customer.get("collection_method")),
        ("Payment method", customer.get("payment_method")),
        ("Final status", customer.get("final_status")),
        ("Emails received", email_count),
    ]
    return [(label, "" if value is None else str(value)) for label, value in facts]


def timeline_files(
    data: Timelines,
    env: SandboxedEnvironment,
    common: dict[str, Any],
    branding: Branding,
    policy: Policy,
    key: SigningKey,
    customers: int = 12,
    seed: int = 0,
) -> dict[str, str]:
    """The timelines index, one page per sampled customer and every email they received, rendered."""
    chosen = sample_customers(data.emails, customers, seed)
    how = _Renderer(branding, policy, key)
    table = {
        int(r["customer_id"]): r
        for r in data.customers.filter(pl.col("customer_id").is_in(chosen)).to_dicts()
    }
    emails = data.emails.filter(pl.col("customer_id").is_in(chosen)).sort(
        "customer_id", "time", maintain_order=True
    )
    events = data.events.filter(pl.col("customer_id").is_in(chosen)).sort(
        "customer_id", "time", maintain_order=True
    )
    files: dict[str, str] = {}
    index_rows = []
    for customer_id in chosen:
        customer = table.get(customer_id)
        if customer is None:
            raise ConfigError(f"customers frame has no row for customer {customer_id}, who received email")
        own_emails = emails.filter(pl.col("customer_id") == customer_id).to_dicts()
        own_events = events.filter(pl.col("customer_id") == customer_id).to_dicts()
        timezone = rules.display_timezone(customer.get("timezone"), branding.timezone)  # R7b
        routine = _routine_invoices(own_events)
        rows = [(e["time"], 0, _event_row(e, timezone, routine)) for e in own_events]
        for n, email in enumerate(own_emails, start=1):
            row, rendered = _email_row(email, n, customer, own_events, how, timezone, routine)
            rows.append((email["time"], 1, row))  # an email follows the event that triggered it
            files.update(rendered)
        rows.sort(key=lambda r: (r[0], r[1]))
        page = f"timelines/customer-{customer_id}.html"
        files[page] = env.get_template("customer.html.j2").render(
            **common,
            title=f"Customer {customer_id}",
            root=root(page),
            customer={"id": customer_id},
            timezone=timezone,
            facts=_facts(customer, len(own_emails), timezone),
            rows=fold_routine([row for _, _, row in rows]),
        )
        index_rows.append(
            {
                "id": customer_id,
                "href": f"customer-{customer_id}.html",
                **{
                    k: customer.get(k)
                    for k in ("cohort", "plan", "locale", "collection_method", "final_status")
                },
                "email_count": len(own_emails),
            }
        )
    files["timelines/index.html"] = env.get_template("timelines.html.j2").render(
        **common,
        title="Customer timelines",
        root=root("timelines/index.html"),
        customers=index_rows,
        total_customers=data.emails["customer_id"].n_unique(),
    )
    return files
