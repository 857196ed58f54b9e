"""The facts an email is rendered from, validated at the edge so templates only see clean values.

Money is integer minor units plus an ISO currency code; every instant is an aware datetime (polars'
UTC columns convert to these directly). Anything a template prints comes from here or from the brand.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Any, Literal

from babel.numbers import get_currency_name
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from recovery_sim.domain.email_types import about
from recovery_sim.domain.enums import (
    CollectionMethod,
    DunningAction,
    EmailType,
    PaymentMethodKind,
    PlanInterval,
    SubscriptionStatus,
)
from recovery_sim.settings.config import ConfigError, format_validation_error

CancellationReason = Literal["payment_failed", "requested"]


class EmailContext(BaseModel):
    """Facts of one customer's case at the moment an email is sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_name: Annotated[str, Field(min_length=1, max_length=200)]
    customer_email: Annotated[str, Field(min_length=3, max_length=320)]
    customer_timezone: str | None = Field(None, description="R7b: None falls back to the account's zone")
    amount: Annotated[int, Field(ge=0, description="minor units, e.g. cents")]
    currency: str
    subscription_id: Annotated[str, Field(min_length=1, max_length=100)]
    invoice_id: str | None = Field(None, description="the billing system's object id, never shown")
    invoice_number: str | None = Field(None, description="what the customer sees, e.g. NW-4F2A-0012")
    credit_note_id: str | None = None
    plan_name: str = Field("", description="as the scenario names it; the catalogs translate it")
    plan_interval: PlanInterval | None = Field(None, description="how often the price recurs")
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY
    payment_method: PaymentMethodKind = PaymentMethodKind.CARD
    sent_at: AwareDatetime
    period_end: AwareDatetime | None = Field(None, description="end of the current period: the renewal date")
    due_date: AwareDatetime | None = None
    trial_end: AwareDatetime | None = None
    had_payment_method: bool = Field(True, description="a payment method is on file (R6b, R11c)")
    card_brand: str | None = None
    card_last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")] | None = None
    card_exp_month: Annotated[int, Field(ge=1, le=12)] | None = None
    card_exp_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    decline_code: str | None = None
    attempt: Annotated[int, Field(ge=1)] | None = Field(None, description="which attempt failed (R4)")
    attempts_allowed: Annotated[int, Field(ge=1)] | None = Field(None, description="first try + retries")
    is_last_attempt: bool | None = Field(None, description="no retry follows: the end action does")
    next_attempt_at: AwareDatetime | None = None
    dunning_ends_at: AwareDatetime | None = Field(None, description="when the end-of-dunning action applies")
    end_action: DunningAction | None = Field(None, description="what happens then")
    boleto_line: Annotated[str, Field(pattern=r"^[0-9]{47}$")] | None = Field(
        None, description="the Boleto's linha digitável, 47 digits"
    )
    payment_expires_at: AwareDatetime | None = Field(None, description="R8: when a pending payment expires")
    link_live_until: AwareDatetime | None = Field(None, description="None: computed by rules.link_live_until")
    link_included: bool | None = Field(
        None, description="a replayed log's verdict; None lets the rules decide"
    )
    subscription_status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    status_since: AwareDatetime | None = None
    cancellation_reason: CancellationReason | None = None

    @field_validator("customer_timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None and value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if len(code) != 3 or get_currency_name(code, locale="en") == code:
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return code

    @classmethod
    def coerce(cls, context: EmailContext | dict[str, Any]) -> EmailContext:
        """Accept a context or a plain dict; a bad dict is a ConfigError naming each field."""
        if isinstance(context, cls):
            return context
        if not isinstance(context, dict):
            raise ConfigError(f"email context must be a dict or EmailContext, got {type(context).__name__}")
        try:
            return cls.model_validate(context)
        except ValidationError as exc:
            allowed = ", ".join(cls.model_fields)
            raise ConfigError(
                f"{format_validation_error('email context', exc)}\nallowed fields: {allowed}"
            ) from exc

    def with_facts(self, **facts: Any) -> EmailContext:
        """A validated copy with some facts changed."""
        return EmailContext.coerce({**self.model_dump(), **facts})


def check_required(email_type: EmailType, context: EmailContext) -> None:
    """The facts without which the type cannot say what it is about (the table's `required_facts`)."""
    missing = [name for name in about(email_type).required_facts if getattr(context, name) is None]
    if missing:
        raise ConfigError(f"email context: {email_type.value} emails need {', '.join(missing)}")


def epoch_days(moment: dt.datetime) -> float:
    """An aware instant on the float day scale `rules` works in (any origin works: rules compare)."""
    return moment.timestamp() / 86_400.0


def from_epoch_days(days: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(round(days * 86_400.0), tz=dt.UTC)
