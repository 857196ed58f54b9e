"""Hosted links (R10a, R11) under attack, and the signing key's hygiene.

tests/emails/test_email_links.py checks one tampered, expired and other-subscription token each. Here:
every single-character edit of a token is refused, tokens cut, spliced or signed with another key are
refused, a link dies exactly at the deadline the email states, a token replayed for another
subscription or another page is refused, and the gallery's links verify only with the configured key.

Key hygiene: with RECOVERY_SIM_LINK_KEY set to a recognisable value, the real CLI simulates, renders and
builds the gallery; no written file, no stdout/stderr and no log record holds the key, in raw, hex or
base64 form (at every byte alignment).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from recovery_sim.emails.gallery import build_gallery
from recovery_sim.emails.links import KEY_ENV, WrongPurpose
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import Policy

ROOT = Path(__file__).resolve().parents[2]
KEY = SigningKey(b"reliability-test-key-0123456789abcdef", "test key")
OTHER = SigningKey(b"another-key-entirely-0123456789abcdef", "other key")
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
DEADLINE = NOW + dt.timedelta(days=30)
CANARY = "CANARY-link-key-5f1e9a2b7c3d4e6f-do-not-leak"
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def token_for(subscription: str = "sub_1", purpose: str = "payment_failed") -> str:
    return sign_link(subscription, purpose, DEADLINE, KEY)


# ------------------------------------------------------------------------------------------- tampering


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_single_character_edit_is_refused(data) -> None:
    token = token_for()
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(URL_SAFE + ".").filter(lambda c: c != token[position]))
    forged = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(TamperedLink):
        verify_link(forged, KEY, NOW, subscription_id="sub_1", purpose="payment_failed")


@pytest.mark.parametrize(
    "forge",
    [
        lambda t, o: t[:-1],  # truncated signature
        lambda t, o: t.split(".")[0],  # no signature at all
        lambda t, o: t + ".",  # an extra part
        lambda t, o: "",
        lambda t, o: ".",
        lambda t, o: t.split(".")[0] + "." + o.split(".")[1],  # another token's signature
        lambda t, o: o.split(".")[0] + "." + t.split(".")[1],  # another token's payload
        lambda t, o: sign_link("sub_1", "payment_failed", DEADLINE, OTHER),  # signed with another key
        lambda t, o: t.replace(".", ".\u00e9", 1),  # non-ASCII
        lambda t, o: t.upper(),
    ],
    ids=[
        "truncated",
        "unsigned",
        "extra-part",
        "empty",
        "dot",
        "spliced-signature",
        "spliced-payload",
        "other-key",
        "non-ascii",
        "upper-case",
    ],  # fmt: skip
)
def test_forged_tokens_are_refused(forge) -> None:
    with pytest.raises(TamperedLink):
        verify_link(forge(token_for(), token_for("sub_2")), KEY, NOW, subscription_id="sub_1")


def test_non_string_tokens_are_refused() -> None:
    for value in (None, 42, b"abc.def"):
        with pytest.raises(TamperedLink):
            verify_link(value, KEY, NOW)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------- deadlines (R11)


def test_a_link_dies_exactly_at_its_deadline() -> None:
    token = token_for()
    verify_link(token, KEY, DEADLINE - dt.timedelta(seconds=1))
    for moment in (DEADLINE, DEADLINE + dt.timedelta(days=400)):
        with pytest.raises(ExpiredLink):
            verify_link(token, KEY, moment)


@pytest.mark.parametrize("email_type", ["payment_failed", "card_expiring", "trial_will_end",
                                        "payment_action_required", "upcoming_renewal"])  # fmt: skip
def test_rendered_links_live_until_the_deadline_the_email_states(email_type) -> None:
    """The token inside a rendered email expires at `link_live_until` (R11), not a second later."""
    email = render_email(email_type, sample_context(email_type), key=KEY, policy=Policy.named("all-on"))
    assert email.update_url and email.link_live_until is not None
    token = extract_token(email.update_url)
    assert token in email.html and token in email.text
    claims = verify_link(token, KEY, email.link_live_until - dt.timedelta(seconds=1))
    assert claims.expires_at == email.link_live_until.replace(microsecond=0)
    with pytest.raises(ExpiredLink):
        verify_link(token, KEY, email.link_live_until)


def extract_token(url: str) -> str:
    """The signed token in a hosted-link URL (in its query or as its last path segment)."""
    parsed = urlparse(url)
    for values in parse_qs(parsed.query).values():
        for value in values:
            if value.count(".") == 1:
                return value
    return parsed.path.rstrip("/").rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------- replaying


def test_a_token_replayed_for_another_subscription_or_page_is_refused() -> None:
    email = render_email("payment_failed", sample_context("payment_failed"), key=KEY,
                         policy=Policy.named("all-on"))  # fmt: skip
    token = extract_token(email.update_url)
    claims = verify_link(token, KEY, NOW.replace(year=2000))
    with pytest.raises(WrongSubscription):
        verify_link(token, KEY, NOW.replace(year=2000), subscription_id=claims.subscription_id + "0")
    with pytest.raises(WrongPurpose):
        verify_link(token, KEY, NOW.replace(year=2000), purpose="subscription_management")
    assert issubclass(WrongPurpose, LinkError)
    if email.management_url:  # the management link cannot pay the invoice either
        management = extract_token(email.management_url)
        with pytest.raises(WrongPurpose):
            verify_link(management, KEY, NOW.replace(year=2000), purpose=claims.purpose)


# ------------------------------------------------------------------------------------------ key hygiene


def key_forms(secret: bytes) -> list[bytes]:
    """The key as it could leak: raw, hex, and base64/base64url at each of the three byte alignments."""
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + secret).rstrip(b"=")
            skip = (shift * 4 + 2) // 3  # characters that also encode the padding bytes
            forms.append(encoded[skip : len(encoded) - 2])  # trailing chars may mix with what follows
    return forms


def assert_no_key(blob: bytes, where: str) -> None:
    for form in key_forms(CANARY.encode()):
        assert form not in blob, f"the link key leaked into {where}"


def test_key_forms_catch_what_they_should() -> None:
    """The detector itself: it finds the key however it is encoded inside other text."""
    secret = CANARY.encode()
    for leak in (secret, secret.hex().encode(), base64.b64encode(b"xy" + secret + b"z"),
                 base64.urlsafe_b64encode(b"x" + secret)):  # fmt: skip
        with pytest.raises(AssertionError):
            assert_no_key(b"<p>" + leak + b"</p>", "test")


def test_the_key_never_reaches_outputs_or_logs(tmp_path, caplog, monkeypatch) -> None:
    env = {**os.environ, KEY_ENV: CANARY, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "recovery_sim.cli"]
    commands = [
        ["run", "--customers", "120", "--months", "3", "--out", "run"],
        ["emails", "preview", "--out", "gallery", "--run", "run", "--customers", "4"],
        ["emails", "render", "payment_failed", "--locale", "fr", "--out", "email.html"],
        ["emails", "render", "card_expiring", "--out", "email.txt"],
        ["emails", "render", "payment_action_required", "--brand", "acme-noir"],
    ]
    captured = b""
    for args in commands:
        result = subprocess.run([*cli, *args], cwd=tmp_path, env=env, capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        captured += result.stdout + result.stderr
    assert_no_key(captured, "stdout/stderr")
    assert "per-process preview key" not in captured.decode()  # the configured key was used
    # In-process too, with every logger at DEBUG.
    monkeypatch.setenv(KEY_ENV, CANARY)
    with caplog.at_level(logging.DEBUG):
        build_gallery(tmp_path / "gallery-in-process", locales=["en", "pt_BR"])
    assert_no_key("\n".join(r.getMessage() for r in caplog.records).encode(), "log records")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 100
    for path in written:
        assert_no_key(path.read_bytes(), str(path.relative_to(tmp_path)))
    # And the links in the gallery really are signed with that key (and only verify with it).
    page = (tmp_path / "gallery" / "emails").rglob("payment_failed.email.html")
    html = next(page).read_text(encoding="utf-8")
    token = next(t for t in re.findall(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{43}", html))
    verify_link(token, SigningKey(CANARY.encode(), "canary"), NOW.replace(year=2000))
    with pytest.raises(TamperedLink):
        verify_link(token, KEY, NOW.replace(year=2000))
