"""Scenario and Policy: validated settings loaded from TOML, with errors that name the file and field.

A *scenario* describes customers and the world (who signs up, how cards fail, how people react).
A *policy* describes what the business switches on (SPEC R3-R12 and the retry schedule).
Both are immutable pydantic models; `with_setting` makes a changed copy for sweeps.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from babel.numbers import get_currency_name
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from recovery_sim.domain.calendar import add_months
from recovery_sim.domain.declines import decline_code_names
from recovery_sim.domain.enums import DunningAction, EmailType, PlanInterval
from recovery_sim.resources import DATA_DIR
from recovery_sim.settings import evidence_table
from recovery_sim.settings.reading import ConfigError, read_toml

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveDays = Annotated[float, Field(gt=0.0)]

RENEWAL_REMINDER_DAYS = (3, 7, 15, 30, 45, 60)
"""SPEC R7a: the lead times a renewal reminder may be set to."""

SUPPORTED_LOCALES = ("en", "fr", "de", "es", "pt_BR")

INVOICE_REMINDER_OFFSET_DAYS = (-30, 90)
"""R5: the earliest and latest invoice reminder, in whole days from the due date."""
MAX_INVOICE_REMINDERS = INVOICE_REMINDER_OFFSET_DAYS[1] - INVOICE_REMINDER_OFFSET_DAYS[0] + 1
MAX_EXPIRY_DAYS = 60.0
"""R8: the longest a 3-D Secure or Boleto payment may wait for its customer (Boleto's own limit)."""
MIN_CONFIRMATION_REMINDER_DAYS = 1 / 24
"""R8(2): reminders at most hourly, so a confirmation sends a bounded number of emails."""


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


def _check_currency(value: str) -> str:
    code = value.upper()
    try:
        known = len(code) == 3 and get_currency_name(code, locale="en") != code
    except Exception:  # babel raises a bare lookup error for some unknown codes
        known = False
    if not known:
        raise ValueError(f"unknown ISO 4217 currency {value!r}")
    return code


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
"""An IANA time zone name, checked against the system's tz database."""
CurrencyCode = Annotated[str, AfterValidator(_check_currency)]
"""An ISO 4217 code, upper-cased."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------- scenario


class Plan(_Strict):
    name: str
    interval: PlanInterval = PlanInterval.MONTH
    price: Annotated[int, Field(gt=0, description="minor units, e.g. cents")]
    currency: CurrencyCode = "EUR"
    share: Probability


class Country(_Strict):
    code: Annotated[str, Field(min_length=2, max_length=2)]
    share: Probability
    timezone: TimeZoneName | None = Field(
        None, description="None: the customer has no time zone (R7b falls back)"
    )
    locale: str = "en"

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"unknown locale {value!r}; allowed: {', '.join(SUPPORTED_LOCALES)}")
        return value


class PaymentMix(_Strict):
    """Which payment method customers pay with; Boleto payments always need the customer to act (R8)."""

    card: Probability = 0.92
    sepa_debit: Probability = 0.05
    boleto: Probability = 0.03

    @model_validator(mode="after")
    def _sums_to_one(self) -> PaymentMix:
        total = self.card + self.sepa_debit + self.boleto
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"card + sepa_debit + boleto must be 1, got {total:g}")
        return self


class Cohort(_Strict):
    name: str
    customers: Annotated[int, Field(gt=0)]
    signup_month: str = Field(description="YYYY-MM; months before the scenario start make an existing base")
    signup_spread_months: Annotated[int, Field(ge=1, le=120)] = 1
    plans: list[Plan] = Field(min_length=1)
    countries: list[Country] = Field(min_length=1)
    payment_mix: PaymentMix = PaymentMix()
    trial_share: Probability = 0.0
    trial_days: Annotated[int, Field(ge=1, le=730)] = 14
    trial_without_payment_method_share: Probability = 0.0
    send_invoice_share: Probability = 0.0
    days_until_due: Annotated[int, Field(ge=1, le=90)] = 30
    first_attempt_failure_rate: Probability = 0.08
    three_ds_share: Probability = Field(0.03, description="card payments that need 3-D Secure")
    card_expiry_months_max: Annotated[int, Field(ge=1, le=120)] = 48

    @field_validator("signup_month")
    @classmethod
    def _month(cls, value: str) -> str:
        try:
            dt.date.fromisoformat(value + "-01")
        except ValueError as exc:
            raise ValueError(f"signup_month must be YYYY-MM, got {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _shares(self) -> Cohort:
        for label, items in (("plans", self.plans), ("countries", self.countries)):
            total = sum(item.share for item in items)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{label} shares must add up to 1, got {total:g}")
        return self

    @property
    def signup_date(self) -> dt.date:
        return dt.date.fromisoformat(self.signup_month + "-01")


ConfirmationDays = Annotated[float, Field(gt=0.0, le=MAX_EXPIRY_DAYS)]
"""How long a 3-D Secure or Boleto payment waits for its customer (R8)."""
WriteOffDays = Annotated[int, Field(ge=1, le=180)]


def _evidence(name: str) -> Any:
    """Behaviour's default for `name`: its row in data/evidence.toml, the number's one home."""
    return evidence_table.shipped_value(f"behaviour.{name}")


def _act_on_email_evidence() -> dict[EmailType, float]:
    rows = evidence_table.shipped_values_under("behaviour.act_on_email.")
    return {EmailType(kind): float(chance) for kind, chance in rows.items()}


class Behaviour(_Strict):
    """How customers react; the latent model every policy is measured against.

    Every default comes from data/evidence.toml, which gives its source or says it is an assumption,
    with a plausible range (docs/assumptions.md); a scenario's [behaviour] table overrides any of them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    act_on_email: dict[EmailType, Probability] = Field(
        default_factory=_act_on_email_evidence,
        description="chance a customer acts on one email of that type (first email of an episode)",
    )
    act_delay_days: PositiveDays = _evidence("act_delay_days")
    fatigue: Probability = Field(
        _evidence("fatigue"), description="each earlier email of the episode multiplies the chance"
    )
    spontaneous_fix_rate: Probability = Field(
        _evidence("spontaneous_fix_rate"), description="failing customers who fix it unprompted"
    )
    spontaneous_fix_delay_days: PositiveDays = _evidence("spontaneous_fix_delay_days")
    new_method_success: Probability = _evidence("new_method_success")
    confirm_unprompted: Probability = Field(
        _evidence("confirm_unprompted"), description="3-D Secure/Boleto confirmed with no email"
    )
    three_ds_expiry_days: ConfirmationDays = _evidence("three_ds_expiry_days")
    boleto_expiry_days: ConfirmationDays = _evidence("boleto_expiry_days")
    card_self_update_before_expiry: Probability = _evidence("card_self_update_before_expiry")
    send_invoice_pay_share: Probability = Field(
        _evidence("send_invoice_pay_share"), description="send_invoice invoices paid unprompted"
    )
    send_invoice_pay_delay_days: PositiveDays = _evidence("send_invoice_pay_delay_days")
    send_invoice_write_off_days: WriteOffDays = _evidence("send_invoice_write_off_days")
    voluntary_churn_monthly: Probability = _evidence("voluntary_churn_monthly")
    reminder_cancel_propensity: Probability = Field(
        _evidence("reminder_cancel_propensity"),
        description="customers whom a renewal reminder prompts to cancel",
    )
    trial_cancel_share: Probability = Field(
        _evidence("trial_cancel_share"), description="trials with a method canceled before paying"
    )


class TestMode(_Strict):
    """SPEC R12: a test account only emails verified-domain or team-member addresses."""

    __test__ = False  # not a pytest test class
    enabled: bool = False
    verified_domain_share: Probability = 0.02
    team_member_share: Probability = 0.01


class Scenario(_Strict):
    name: str = "scenario"
    description: str = ""
    start_date: dt.date
    horizon_months: Annotated[int, Field(ge=1, le=60)] = 12
    account_timezone: TimeZoneName = "UTC"
    cohorts: list[Cohort] = Field(min_length=1)
    decline_mix: dict[str, Probability] | None = Field(
        None, description="share per decline code; None uses data/decline_codes.csv"
    )
    card_updater_rate: Probability = 0.35
    behaviour: Behaviour = Behaviour()
    test_mode: TestMode = TestMode()

    @field_validator("decline_mix")
    @classmethod
    def _codes(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        known = decline_code_names()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown decline code(s) {unknown}; allowed: {', '.join(known)}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"decline_mix shares must add up to 1, got {total:g}")
        return value

    @model_validator(mode="after")
    def _cohorts_fit(self) -> Scenario:
        end = add_months(self.start_date, self.horizon_months)
        for index, cohort in enumerate(self.cohorts):
            if cohort.signup_date >= end:
                raise ValueError(
                    f"cohorts.{index}.signup_month: cohort {cohort.name!r} signs up in "
                    f"{cohort.signup_month}, after the horizon ends ({end.isoformat()})"
                )
        return self

    @property
    def customers(self) -> int:
        return sum(c.customers for c in self.cohorts)

    @property
    def horizon_days(self) -> float:
        return float((add_months(self.start_date, self.horizon_months) - self.start_date).days)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        return _load(cls, path)

    @classmethod
    def default(cls) -> Scenario:
        return cls.load(DATA_DIR / "scenarios" / "default.toml")

    def scaled(self, customers: int | None = None, months: int | None = None) -> Scenario:
        """The same scenario with every cohort resized to total `customers` and/or another horizon."""
        update: dict[str, Any] = {}
        if months is not None:
            update["horizon_months"] = months
        if customers is not None:
            if customers < len(self.cohorts):
                raise ConfigError(f"cannot scale {len(self.cohorts)} cohorts to {customers} customers")
            # Largest remainder, so the sizes add up to exactly `customers`; then every cohort keeps one.
            total = self.customers
            exact = [c.customers * customers / total for c in self.cohorts]
            sizes = [math.floor(x) for x in exact]
            by_remainder = sorted(range(len(sizes)), key=lambda i: sizes[i] - exact[i])
            for i in by_remainder[: customers - sum(sizes)]:
                sizes[i] += 1
            for i, n in enumerate(sizes):
                if n == 0:
                    sizes[sizes.index(max(sizes))] -= 1
                    sizes[i] = 1
            update["cohorts"] = [
                c.model_copy(update={"customers": n}) for c, n in zip(self.cohorts, sizes, strict=True)
            ]
        return self.model_validate({**self.model_dump(), **update})

    def with_setting(self, dotted: str, value: Any) -> Scenario:
        return _with_setting(self, dotted, value)

    def setting(self, dotted: str) -> Any:
        """The current value of the setting `with_setting` would replace, e.g. `cohorts.0.trial_share`."""
        return _setting(self, dotted)


# ------------------------------------------------------------------------------------------- policy


class EmailSettings(_Strict):
    """One switch per notification of SPEC R4-R9, plus the informational emails."""

    payment_failed: bool = False  # R4
    invoice_reminders: bool = False  # R5
    invoice_reminder_offsets: list[int] = Field(default_factory=lambda: [-3, 1, 7, 14])
    trial_will_end: bool = False  # R6a (and the R6b activation prompt)
    upcoming_renewal: bool = False  # R7
    upcoming_renewal_days: int = 7  # R7a
    upcoming_renewal_intervals: list[PlanInterval] = Field(default_factory=lambda: [PlanInterval.YEAR])
    payment_action_required: bool = False  # R8(1)
    payment_action_reminders: bool = False  # R8(2)
    payment_action_reminder_days: float = Field(
        1.0, ge=MIN_CONFIRMATION_REMINDER_DAYS, description="R8(2) frequency"
    )
    card_expiring: bool = False  # R9
    receipts: bool = False  # invoice_paid
    invoice_finalized: bool = False
    subscription_canceled: bool = False
    final_notice: bool = False  # R4 escalation: the last notice before the end-of-dunning action
    final_notice_days: PositiveDays = Field(3.0, description="days before the end-of-dunning action")

    @field_validator("upcoming_renewal_days")
    @classmethod
    def _renewal_days(cls, value: int) -> int:
        if value not in RENEWAL_REMINDER_DAYS:
            allowed = ", ".join(map(str, RENEWAL_REMINDER_DAYS))
            raise ValueError(f"upcoming_renewal_days must be one of {allowed} (SPEC R7a), got {value}")
        return value

    @field_validator("invoice_reminder_offsets")
    @classmethod
    def _offsets(cls, value: list[int]) -> list[int]:
        if sorted(set(value)) != value:
            raise ValueError("invoice_reminder_offsets must be distinct and increasing")
        first, last = INVOICE_REMINDER_OFFSET_DAYS
        if value and (value[0] < first or value[-1] > last):
            raise ValueError(
                f"invoice_reminder_offsets must lie between {first} and {last} days of the due date"
            )
        return value


class LinkSettings(_Strict):
    """SPEC R3a/R3b: where the update-payment and subscription-management links lead."""

    update_payment: Literal["hosted", "custom"] = "hosted"
    update_payment_url: str | None = None
    subscription_management: Literal["none", "hosted", "custom"] = "none"
    subscription_management_url: str | None = None

    @model_validator(mode="after")
    def _urls(self) -> LinkSettings:
        for kind, url, name in (
            (self.update_payment, self.update_payment_url, "update_payment_url"),
            (self.subscription_management, self.subscription_management_url, "subscription_management_url"),
        ):
            if kind == "custom" and not (url and url.startswith("https://")):
                raise ValueError(f"{name} must be an https:// URL when the destination is 'custom'")
        return self


class RetrySettings(_Strict):
    """Automatic retries: fixed day offsets after the first failure, or a smart window."""

    mode: Literal["fixed", "smart"] = "smart"
    fixed_offsets_days: list[PositiveDays] = Field(default_factory=lambda: [3.0, 8.0, 15.0])
    max_attempts: Annotated[int, Field(ge=1, le=12)] = 8
    window_days: Annotated[float, Field(gt=0, le=28)] = 14.0
    retry_hard_declines: bool = False

    @field_validator("fixed_offsets_days")
    @classmethod
    def _fixed(cls, value: list[float]) -> list[float]:
        if sorted(set(value)) != value:
            raise ValueError("fixed_offsets_days must be distinct and increasing")
        if value and value[-1] > 28:
            raise ValueError("fixed_offsets_days must end within 28 days of the first failure")
        if len(value) > 11:
            raise ValueError("at most 11 retries")
        return value

    def offsets(self) -> list[float]:
        """Days after the first failed attempt at which each retry happens."""
        if self.mode == "fixed":
            return list(self.fixed_offsets_days)
        retries = self.max_attempts - 1
        # Smart: spacing grows, so early retries catch transient declines and late ones catch paydays.
        return [round(self.window_days * ((i + 1) / retries) ** 1.5, 3) for i in range(retries)]


class Policy(_Strict):
    name: str = "policy"
    description: str = ""
    emails: EmailSettings = EmailSettings()
    links: LinkSettings = LinkSettings()
    retries: RetrySettings = RetrySettings()
    end_action: DunningAction = DunningAction.CANCEL

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        return _load(cls, path)

    @classmethod
    def named(cls, name: str) -> Policy:
        path = DATA_DIR / "policies" / f"{name}.toml"
        if not path.exists():
            allowed = ", ".join(shipped_policy_names())
            raise ConfigError(f"unknown policy {name!r}; shipped policies: {allowed}")
        return cls.load(path)

    def with_setting(self, dotted: str, value: Any) -> Policy:
        return _with_setting(self, dotted, value)

    def setting(self, dotted: str) -> Any:
        """The current value of the setting `with_setting` would replace, e.g. `retries.max_attempts`."""
        return _setting(self, dotted)


def shipped_policy_names() -> list[str]:
    return sorted(p.stem for p in (DATA_DIR / "policies").glob("*.toml"))


# ------------------------------------------------------------------------------------------ helpers


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem: `file: field: message`, the field dotted as in the TOML."""
    lines = []
    for error in exc.errors():
        where = _location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against the shipped files in data/ and docs/)"
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)


def _load(model: type[BaseModel], path: str | Path) -> Any:
    path = Path(path)
    raw = read_toml(path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from exc


def _child(node: Any, part: str, obj: BaseModel, dotted: str) -> Any:
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    if isinstance(node, dict) and part in node:
        return node[part]
    raise ConfigError(f"{type(obj).__name__}: no setting {dotted!r}")


def _setting(obj: BaseModel, dotted: str) -> Any:
    node: Any = obj.model_dump()
    for part in dotted.split("."):
        node = _child(node, part, obj, dotted)
    return node


def _with_setting(obj: BaseModel, dotted: str, value: Any) -> Any:
    """A validated copy of `obj` with the dotted setting replaced (used by sweeps)."""
    data = obj.model_dump()
    target = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = _child(target, part, obj, dotted)
    last = parts[-1]
    if isinstance(target, list) and last.isdigit() and int(last) < len(target):
        target[int(last)] = value
    elif isinstance(target, dict) and last in target:
        target[last] = value
    else:
        raise ConfigError(f"{type(obj).__name__}: no setting {dotted!r}")
    try:
        return type(obj).model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"{type(obj).__name__} setting {dotted}", exc)) from exc
