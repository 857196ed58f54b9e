"""Hypothesis strategies for Scenario and Policy, derived from the pydantic models by walking their fields.

Why: a hand-kept list of settings to vary silently misses every setting added after it was written, so
the fast path could diverge from the reference path on a setting no comparison ever changes. Here each
field's strategy comes from its type (bool, Literal, enum, bounded int or float, nested model, list,
dict keyed by an enum or by decline code, optional); a new field is drawn without anyone touching
this file, and `leaf_defaults`/`leaf_values` let a test prove that every setting was varied.

What types cannot say is written down once, next to the validator it respects (`RESPECTED`): the
YYYY-MM month, the locales, the renewal lead days, increasing offsets, shares that add up to 1,
https URLs for custom links, cohorts that sign up before the horizon ends. `SMALL_WORLD` caps the sizes
so that one example runs in a fraction of a second on either engine path.
"""

from __future__ import annotations

import datetime as dt
import types
import zoneinfo
from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from babel.numbers import list_currencies
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from recovery_sim.domain.calendar import add_months
from recovery_sim.domain.declines import decline_code_names
from recovery_sim.settings.config import (
    RENEWAL_REMINDER_DAYS,
    SUPPORTED_LOCALES,
    Cohort,
    Country,
    CurrencyCode,
    EmailSettings,
    LinkSettings,
    PaymentMix,
    Policy,
    RetrySettings,
    Scenario,
    TimeZoneName,
)

NO_DEFAULT = PydanticUndefined
"""The default of a required field: any two different drawn values count as varied."""

SMALL_WORLD: dict[tuple[type[BaseModel], str], st.SearchStrategy] = {
    (Cohort, "customers"): st.integers(1, 25),
    (Scenario, "horizon_months"): st.integers(1, 12),
    # The model takes any positive frequency; one of 1e-200 days sends reminders until memory runs out.
    (EmailSettings, "payment_action_reminder_days"): st.floats(0.05, 10.0) | st.just(1.0),
}
"""Sizes kept small on purpose, not constraints of the models."""

LONGEST_LIST = 3
LARGEST_UNBOUNDED_FLOAT = 90.0  # the unbounded floats are day counts
LARGEST_UNBOUNDED_INT = 10**6
FIRST_DATE, LAST_DATE = dt.date(2019, 1, 1), dt.date(2031, 12, 31)


def _months() -> st.SearchStrategy[str]:
    return st.dates(FIRST_DATE, LAST_DATE).map(lambda day: f"{day:%Y-%m}")


def _https_url(path: str) -> st.SearchStrategy[str | None]:
    return st.none() | st.just(f"https://billing.example.com/{path}")


def _increasing(elements: st.SearchStrategy, longest: int) -> st.SearchStrategy[list]:
    return st.sets(elements, max_size=longest).map(sorted)


VALIDATED_FIELDS: dict[tuple[type[BaseModel], str], st.SearchStrategy] = {
    (Cohort, "signup_month"): _months(),
    (Country, "locale"): st.sampled_from(SUPPORTED_LOCALES),
    (EmailSettings, "upcoming_renewal_days"): st.sampled_from(RENEWAL_REMINDER_DAYS),
    (EmailSettings, "invoice_reminder_offsets"): _increasing(st.integers(-30, 90), 5),
    (RetrySettings, "fixed_offsets_days"): _increasing(st.floats(0.0, 28.0, exclude_min=True), 11),
    (LinkSettings, "update_payment_url"): _https_url("update"),
    (LinkSettings, "subscription_management_url"): _https_url("manage"),
}
"""Fields whose field validator (or URL rule) says more than their type."""

DICT_KEYS: dict[tuple[type[BaseModel], str], Callable[[], list[str]]] = {
    (Scenario, "decline_mix"): decline_code_names,
}
"""Dicts keyed by plain strings, and where their keys come from (enum keys need no entry)."""


@cache
def _valid_currencies() -> list[str]:
    adapter = TypeAdapter(CurrencyCode)

    def valid(code: str) -> bool:
        try:
            return adapter.validate_python(code) == code
        except ValidationError:
            return False

    return [code for code in sorted(list_currencies()) if valid(code)]


VALIDATED_TYPES: list[tuple[Any, Callable[[], st.SearchStrategy]]] = [
    (TimeZoneName, lambda: st.sampled_from(sorted(zoneinfo.available_timezones()))),
    (CurrencyCode, lambda: st.sampled_from(_valid_currencies())),
]
"""Annotated types whose AfterValidator the strategy must satisfy."""


# --------------------------------------------------------------------------------- cross-field rules


def _normalised(values: list[float]) -> list[float]:
    """Shares that add up to 1 whatever was drawn (all zero: equal shares)."""
    total = sum(values)
    if total == 0:
        return [1.0 / len(values)] * len(values)
    return [value / total for value in values]


def _payment_mix(raw: dict[str, Any]) -> dict[str, Any]:
    return dict(zip(raw, _normalised(list(raw.values())), strict=True))


def _cohort(raw: dict[str, Any]) -> dict[str, Any]:
    for label in ("plans", "countries"):
        items = raw[label]
        shares = _normalised([item["share"] for item in items])
        raw = {**raw, label: [{**item, "share": s} for item, s in zip(items, shares, strict=True)]}
    return raw


def _links(raw: dict[str, Any]) -> dict[str, Any]:
    for kind, url in (
        ("update_payment", "update_payment_url"),
        ("subscription_management", "subscription_management_url"),
    ):
        if raw[kind] == "custom" and raw[url] is None:
            raw = {**raw, url: f"https://billing.example.com/{kind}"}
    return raw


def _scenario(raw: dict[str, Any]) -> dict[str, Any]:
    """Decline shares add up to 1; a cohort signing up after the horizon moves back inside it."""
    mix = raw["decline_mix"]
    if mix:
        mix = dict(zip(mix, _normalised(list(mix.values())), strict=True))
    end = add_months(raw["start_date"], raw["horizon_months"])
    last = end.year * 12 + end.month - 2  # the month before the horizon's end, counted from year 0
    cohorts = []
    for cohort in raw["cohorts"]:
        year, month = map(int, cohort["signup_month"].split("-"))
        index = year * 12 + month - 1
        if index > last:
            index = last - (index - last) % 36
        cohorts.append({**cohort, "signup_month": f"{index // 12:04d}-{index % 12 + 1:02d}"})
    return {**raw, "decline_mix": mix or None, "cohorts": cohorts}


CONSTRUCTIONS: dict[type[BaseModel], Callable[[dict[str, Any]], dict[str, Any]]] = {
    PaymentMix: _payment_mix,
    Cohort: _cohort,
    LinkSettings: _links,
    Scenario: _scenario,
}
"""Model validators that relate several fields, met by construction after the fields are drawn."""

RESPECTED = {
    (Scenario, "_codes"): "DICT_KEYS and _scenario",
    (Scenario, "_cohorts_fit"): "_scenario",
    (Cohort, "_month"): "VALIDATED_FIELDS",
    (Cohort, "_shares"): "_cohort",
    (Country, "_known_locale"): "VALIDATED_FIELDS",
    (EmailSettings, "_renewal_days"): "VALIDATED_FIELDS",
    (EmailSettings, "_offsets"): "VALIDATED_FIELDS",
    (RetrySettings, "_fixed"): "VALIDATED_FIELDS",
    (LinkSettings, "_urls"): "VALIDATED_FIELDS and _links",
    (PaymentMix, "_sums_to_one"): "_payment_mix",
}
"""Every validator of the models, and what here respects it (a test checks none is missing)."""


# ----------------------------------------------------------------------------------- walking types


def _split(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The bare type and all its constraints, with Annotated layers and FieldInfo unpacked."""
    while get_origin(annotation) is Annotated and not _validated_type(annotation, []):
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata = [*metadata, *(item.metadata if isinstance(item, FieldInfo) else [item])]
    return annotation, metadata


def _validated_type(annotation: Any, metadata: list[Any]) -> Callable[[], st.SearchStrategy] | None:
    """The strategy maker of a VALIDATED_TYPES entry, whole or as pydantic unpacks it into a field's
    bare type and metadata."""
    for known, make in VALIDATED_TYPES:
        base, *marks = get_args(known)
        if annotation == known or (annotation is base and marks and all(m in metadata for m in marks)):
            return make
    return None


def _bound(metadata: list[Any], kind: type, attribute: str) -> Any:
    return next((getattr(m, attribute) for m in metadata if isinstance(m, kind)), None)


def _optional(annotation: Any) -> Any | None:
    """X for `X | None`, else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1 and len(get_args(annotation)) == 2:
            return rest[0]
    return None


def _number(kind: type, metadata: list[Any]) -> st.SearchStrategy:
    ge, gt = _bound(metadata, at.Ge, "ge"), _bound(metadata, at.Gt, "gt")
    le, lt = _bound(metadata, at.Le, "le"), _bound(metadata, at.Lt, "lt")
    if kind is int:
        low = ge if ge is not None else (gt + 1 if gt is not None else 0)
        high = le if le is not None else (lt - 1 if lt is not None else low + LARGEST_UNBOUNDED_INT)
        return st.integers(low, high)
    low = ge if ge is not None else (gt if gt is not None else 0.0)
    high = le if le is not None else (lt if lt is not None else LARGEST_UNBOUNDED_FLOAT)
    return st.floats(low, high, exclude_min=gt is not None, exclude_max=lt is not None)


def _dict_keys(annotation: Any, where: tuple[type[BaseModel], str]) -> list[Any]:
    key = get_args(annotation)[0]
    if isinstance(key, type) and issubclass(key, Enum):
        return list(key)
    if where in DICT_KEYS:
        return DICT_KEYS[where]()
    raise TypeError(f"{where[0].__name__}.{where[1]}: a dict keyed by {key!r} needs an entry in DICT_KEYS")


def strategy_for(annotation: Any, metadata: list[Any], where: tuple[type[BaseModel], str]) -> Any:
    """The strategy of one type with its constraints; an unknown type fails loudly, naming the field."""
    annotation, metadata = _split(annotation, metadata)
    if make := _validated_type(annotation, metadata):
        return make()
    if (inner := _optional(annotation)) is not None:
        return st.none() | strategy_for(inner, metadata, where)
    origin = get_origin(annotation)
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation in (int, float):
        return _number(annotation, metadata)
    if annotation is str:
        low, high = _bound(metadata, at.MinLen, "min_length"), _bound(metadata, at.MaxLen, "max_length")
        return st.text(min_size=low or 0, max_size=high if high is not None else 6)
    if annotation is dt.date:
        return st.dates(FIRST_DATE, LAST_DATE)
    if _is_model(annotation):
        return model_dicts(annotation)
    if origin is list:
        low = _bound(metadata, at.MinLen, "min_length") or 0
        high = _bound(metadata, at.MaxLen, "max_length") or max(low, LONGEST_LIST)
        return st.lists(strategy_for(get_args(annotation)[0], [], where), min_size=low, max_size=high)
    if origin is dict:
        keys = _dict_keys(annotation, where)
        values = strategy_for(get_args(annotation)[1], [], where)
        return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, values))  # each key often
    raise TypeError(f"{where[0].__name__}.{where[1]}: no strategy for {annotation!r}")


def _default(info: FieldInfo) -> Any:
    value = info.get_default(call_default_factory=True)
    return value.model_dump() if isinstance(value, BaseModel) else value


def _field(model: type[BaseModel], name: str, info: FieldInfo) -> st.SearchStrategy:
    where = (model, name)
    if where in SMALL_WORLD:
        return SMALL_WORLD[where]  # never the default, which may be large
    if where in VALIDATED_FIELDS:
        drawn = VALIDATED_FIELDS[where]
    else:
        drawn = strategy_for(info.annotation, list(info.metadata), where)
    kind = _classify(info.annotation)
    if info.is_required() or _is_model(kind) or get_origin(kind) is dict:
        return drawn  # settings made of settings: their leaves choose their defaults themselves
    return drawn | st.just(_default(info))


@cache
def model_dicts(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Raw settings of `model`, every field drawn, cross-field rules met (validate them to get a model)."""
    fields = {name: _field(model, name, info) for name, info in model.model_fields.items()}
    return st.fixed_dictionaries(fields).map(CONSTRUCTIONS.get(model, dict))


def scenarios() -> st.SearchStrategy[Scenario]:
    return model_dicts(Scenario).map(Scenario.model_validate)


def policies() -> st.SearchStrategy[Policy]:
    return model_dicts(Policy).map(Policy.model_validate)


def worlds() -> st.SearchStrategy[tuple[Scenario, Policy, int]]:
    """A scenario, a policy and a seed."""
    return st.tuples(scenarios(), policies(), st.integers(0, 2**32))


# ------------------------------------------------------------------------------------------- leaves


def _classify(annotation: Any) -> Any:
    annotation, _ = _split(annotation, [])
    return _optional(annotation) or annotation


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _walk(model: type[BaseModel], value: Any, prefix: str, out: dict[str, list[Any]]) -> None:
    """Every leaf setting of `model` with the values it takes in `value` (None: the class defaults)."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        kind = _classify(info.annotation)
        here = _default(info) if value is None else getattr(value, name)
        if _is_model(kind):
            _walk(kind, None if value is None else here, f"{path}.", out)
        elif get_origin(kind) is list and _is_model(item := _classify(get_args(kind)[0])):
            for element in [None] if value is None else here:
                _walk(item, element, f"{path}[].", out)
        elif get_origin(kind) is dict:
            for key in _dict_keys(kind, (model, name)):
                out.setdefault(f"{path}.{key}", []).append(None if here is None else here.get(key))
        else:
            out.setdefault(path, []).append(tuple(here) if isinstance(here, list) else here)


def leaf_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Each leaf setting's default, `NO_DEFAULT` for a required one; a dict entry's default is None
    when the default dict lacks that key (list entries are named `field[]`)."""
    out: dict[str, list[Any]] = {}
    _walk(model, None, "", out)
    return {path: values[0] for path, values in out.items()}


def leaf_values(settings: BaseModel) -> dict[str, list[Any]]:
    """The values each leaf setting takes in `settings` (several for settings inside lists)."""
    out: dict[str, list[Any]] = {}
    _walk(type(settings), settings, "", out)
    return out
