"""Stripe-looking ids that encode the simulator's numbers, so an exported object can be traced back."""

from __future__ import annotations

import string

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def stripe_id(prefix: str, number: int, width: int = 14) -> str:
    """A Stripe-looking id; base62 digits padded to one width, so ids sort in the order of `number`."""
    digits = ""
    number = int(number)
    while number:
        number, rest = divmod(number, 3844)
        digits = _PAIRS[rest] + digits
    return f"{prefix}_{digits.rjust(width, '0')}"


def id_number(stripe_id_: str) -> int:
    """The number a `stripe_id` encodes (the simulator's customer or invoice id, for comparisons)."""
    number = 0
    for char in stripe_id_.partition("_")[2]:
        number = number * 62 + _ALPHABET.index(char)
    return number
