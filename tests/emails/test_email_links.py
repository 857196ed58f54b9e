"""Signed hosted links (R10a) and where their keys come from: never a constant, never in an output."""

from __future__ import annotations

import datetime as dt

import pytest

from recovery_sim.emails import (
    ExpiredLink,
    LinkError,
    SigningKey,
    TamperedLink,
    WrongSubscription,
    render_email,
    sign_link,
    verify_link,
)
from recovery_sim.emails.links import KEY_ENV, resolve_key
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import ConfigError

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=30)


def test_R10a_roundtrip_with_datetime_or_epoch_seconds(key):
    token = sign_link("sub_1", "payment_failed", LATER, key)
    assert token == sign_link("sub_1", "payment_failed", int(LATER.timestamp()), key)  # deterministic
    claims = verify_link(token, key, NOW, subscription_id="sub_1", purpose="payment_failed")
    assert (claims.subscription_id, claims.purpose, claims.expires_at) == ("sub_1", "payment_failed", LATER)
    assert verify_link(token, key, NOW.timestamp()).subscription_id == "sub_1"
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")  # URL-safe


def test_R10a_distinct_failures():
    key = SigningKey(b"k" * 32, "test")
    token = sign_link("sub_1", "card_expiring", LATER, key)
    with pytest.raises(TamperedLink):
        verify_link(token.replace(".", ".x", 1), key, NOW)
    with pytest.raises(ExpiredLink):
        verify_link(token, key, LATER + dt.timedelta(seconds=1))
    with pytest.raises(WrongSubscription):
        verify_link(token, key, NOW, subscription_id="sub_2")
    for error in (TamperedLink, ExpiredLink, WrongSubscription):
        assert issubclass(error, LinkError)


def test_R10a_a_re_signed_payload_needs_the_key(key):
    """Changing the subscription inside the payload breaks the signature."""
    import base64
    import json

    token = sign_link("sub_1", "payment_failed", LATER, key)
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sub"] = "sub_2"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(TamperedLink):
        verify_link(f"{forged}.{signature}", key, NOW)


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "an-environment-key-of-32-characters")
    assert resolve_key(None).label == f"${KEY_ENV}"
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        resolve_key(None)


def test_preview_key_is_random_labelled_and_stable_within_the_process(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    first, second = resolve_key(None), resolve_key(None)
    assert first is second and first.label.startswith("preview key")
    assert "secret" not in repr(first) and first.secret.hex() not in repr(first)
    with pytest.raises(ConfigError, match=KEY_ENV):
        resolve_key(None, allow_preview=False)


def test_key_never_appears_in_outputs(key):
    email = render_email("payment_failed", sample_context("payment_failed"), key=key)
    for secret in (key.secret.decode(), key.secret.hex()):
        assert secret not in email.html and secret not in email.text
    assert email.signed_with == "test key"
