"""The Boleto's typable line (linha digitável): the 47 digits a customer types into a banking app when
the barcode cannot be scanned, built and grouped the way FEBRABAN specifies.

A simulation has no bank, so previews and replayed emails build a line with valid check digits from
the facts a Boleto encodes (bank, due date, amount) and a placeholder free field; the layout and the
check digits are real, so the email looks and validates like the one a customer would get.
"""

from __future__ import annotations

import datetime as dt

FACTOR_BASE = dt.date(2025, 2, 22)
"""Due-date factor 1000; FEBRABAN restarted the factor here when the 1997 series reached 9999."""


def _mod10(digits: str) -> int:
    """Check digit of the line's first three fields: weights 2, 1, 2, … from the right, digit sums."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _mod11(digits: str) -> int:
    """The barcode's general check digit: weights 2 to 9 from the right; 0, 10 and 11 become 1."""
    total = sum(int(ch) * (2 + i % 8) for i, ch in enumerate(reversed(digits)))
    check = 11 - total % 11
    return 1 if check in (0, 10, 11) else check


def due_factor(due: dt.date) -> int:
    """Days from the factor base, counted from 1000 (the series FEBRABAN started on 2025-02-22)."""
    factor = (due - FACTOR_BASE).days + 1000
    if not 1000 <= factor <= 9999:
        raise ValueError(f"{due} is outside the current Boleto due-date factor series")
    return factor


def typable_line(bank: str, due: dt.date, amount_minor: int, free_field: str) -> str:
    """The 47 digits: three fields with mod-10 checks, the barcode's mod-11 check, factor and amount."""
    if not (len(bank) == 3 and bank.isdigit() and len(free_field) == 25 and free_field.isdigit()):
        raise ValueError("a Boleto needs a 3-digit bank code and a 25-digit free field")
    if not 0 <= amount_minor < 10**10:
        raise ValueError("a Boleto amount has at most 10 digits of centavos")
    head, tail = f"{bank}9", f"{due_factor(due):04d}{amount_minor:010d}"
    general = _mod11(head + tail + free_field)
    first = head + free_field[:5]
    second, third = free_field[5:15], free_field[15:]
    return f"{first}{_mod10(first)}{second}{_mod10(second)}{third}{_mod10(third)}{general}{tail}"


def is_valid(line: str) -> bool:
    """Whether the line's four check digits agree with its contents."""
    if len(line) != 47 or not line.isdigit():
        return False
    first, second, third = line[0:9], line[10:20], line[21:31]
    fields_ok = all(
        _mod10(body) == int(check)
        for body, check in ((first, line[9]), (second, line[20]), (third, line[31]))
    )
    barcode_rest = line[0:4] + line[33:47] + first[4:] + second + third
    return fields_ok and _mod11(barcode_rest) == int(line[32])


def grouped(line: str) -> str:
    """The standard grouping: `23793.38128 60000.000003 00000.000400 1 84340000012345`."""
    return (
        f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} {line[21:26]}.{line[26:32]} "
        f"{line[32]} {line[33:]}"
    )


PLACEHOLDER_BANK = "237"
PLACEHOLDER_ACCOUNT = ("3381", "09", "0012345")
"""Agency, portfolio and account of the placeholder free field (bank 237's layout)."""


def placeholder_line(reference: int, due: dt.date, amount_minor: int) -> str:
    """A line for a simulated Boleto: bank 237's free-field layout (agency, portfolio, the document's
    own number from `reference`, account), with a placeholder agency and account."""
    agency, portfolio, account = PLACEHOLDER_ACCOUNT
    free_field = f"{agency}{portfolio}{reference % 10**11:011d}{account}0"
    return typable_line(PLACEHOLDER_BANK, due, amount_minor, free_field)
