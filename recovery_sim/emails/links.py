"""SPEC R10a: the private hosted link — an HMAC-SHA256-signed, URL-safe token saying which subscription it
is for, what it is for (the email type) and when it stops working (R11, from `rules.link_live_until`).

The token is `<payload>.<signature>`, both unpadded base64url; the payload is compact JSON. A token
cannot be forged or altered without the key, and `verify_link` refuses tampered, expired and
other-subscription tokens with distinct exceptions so callers can tell the customer what happened.

Keys come from configuration: an explicit argument, or the `RECOVERY_SIM_LINK_KEY` environment variable.
Previews use a random key made once per process and labelled as such; no key lives in code, and a key
is never written into any output.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import secrets
from dataclasses import dataclass, field
from functools import cache

from recovery_sim.settings.config import ConfigError

KEY_ENV = "RECOVERY_SIM_LINK_KEY"
MIN_KEY_BYTES = 16
TOKEN_VERSION = 1
MANAGEMENT_PURPOSE = "subscription_management"
INVOICE_PURPOSE = "invoice"
"""The invoice's own hosted page, where a send_invoice customer reads and pays it (R5)."""


class LinkError(ValueError):
    """A hosted-link token was refused."""


class TamperedLink(LinkError):
    """The token is malformed or its signature does not match (altered, or signed with another key)."""


class ExpiredLink(LinkError):
    """R11: the token's deadline has passed."""


class WrongSubscription(LinkError):
    """The token is genuine but belongs to another subscription."""


class WrongPurpose(LinkError):
    """The token is genuine but was issued for another page (e.g. a management link used to pay)."""


class LinkKeyMissing(ConfigError):
    """No signing key was configured."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A secret for signing links, with a label saying where it came from. Its repr never shows it."""

    secret: bytes = field(repr=False)
    label: str

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise ConfigError(f"link signing key ({self.label}) must be at least {MIN_KEY_BYTES} bytes long")

    @classmethod
    def of(cls, key: SigningKey | str | bytes, label: str = "explicit key") -> SigningKey:
        if isinstance(key, SigningKey):
            return key
        secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        return cls(secret, label)

    @classmethod
    def from_env(cls) -> SigningKey:
        value = os.environ.get(KEY_ENV)
        if not value:
            raise LinkKeyMissing(
                f"no link signing key: set the {KEY_ENV} environment variable (at least {MIN_KEY_BYTES} "
                "characters) or pass key=..."
            )
        return cls(value.encode("utf-8"), f"${KEY_ENV}")

    @classmethod
    def preview(cls) -> SigningKey:
        """A random key made once per process: preview links look real but verify nowhere else."""
        return _preview_key()


@cache
def _preview_key() -> SigningKey:
    return SigningKey(secrets.token_bytes(32), "preview key (random, this process only)")


def resolve_key(key: SigningKey | str | bytes | None, *, allow_preview: bool = True) -> SigningKey:
    """An explicit key, else $RECOVERY_SIM_LINK_KEY, else (for previews) the per-process preview key."""
    if key is not None:
        return SigningKey.of(key)
    if os.environ.get(KEY_ENV) or not allow_preview:
        return SigningKey.from_env()
    return SigningKey.preview()


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a verified token says."""

    subscription_id: str
    purpose: str
    expires_at: dt.datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(moment: dt.datetime | float | int) -> int:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime: link deadlines must be aware (UTC)")
        return math.floor(moment.timestamp())
    return math.floor(moment)


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign_link(
    subscription_id: str,
    purpose: str,
    expires_at: dt.datetime | float | int,
    key: SigningKey | str | bytes,
) -> str:
    """A URL-safe token for `subscription_id`, good for `purpose` until `expires_at` (aware datetime or
    epoch seconds). Deterministic: the same inputs and key give the same token."""
    body = {"v": TOKEN_VERSION, "sub": str(subscription_id), "for": str(purpose), "exp": _epoch(expires_at)}
    payload = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_signature(SigningKey.of(key).secret, payload)}"


def verify_link(
    token: str,
    key: SigningKey | str | bytes,
    now: dt.datetime | float | int,
    subscription_id: str | None = None,
    purpose: str | None = None,
) -> LinkClaims:
    """Check a token: signature first (TamperedLink), then deadline (ExpiredLink, R11), then the
    subscription it is for (WrongSubscription)."""
    try:
        payload, signature = token.split(".")
    except (AttributeError, TypeError, ValueError) as exc:  # not a string (None, bytes), or not two parts
        raise TamperedLink("malformed link token") from exc
    expected = _signature(SigningKey.of(key).secret, payload)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
        raise TamperedLink("link signature does not match: the token was altered or signed with another key")
    try:
        body = json.loads(_unb64(payload))
        claims = LinkClaims(
            subscription_id=str(body["sub"]),
            purpose=str(body["for"]),
            expires_at=dt.datetime.fromtimestamp(int(body["exp"]), tz=dt.UTC),
        )
        version = body["v"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:  # signed but unreadable
        raise TamperedLink("link token payload is unreadable") from exc
    if version != TOKEN_VERSION:
        raise TamperedLink(f"unsupported link token version {version!r}")
    if _epoch(now) >= _epoch(claims.expires_at):
        raise ExpiredLink(f"link expired at {claims.expires_at.isoformat()}")
    if subscription_id is not None and claims.subscription_id != str(subscription_id):
        raise WrongSubscription("link belongs to another subscription")
    if purpose is not None and claims.purpose != purpose:
        raise WrongPurpose(f"link is for {claims.purpose!r}, not {purpose!r}")
    return claims
