"""Golden files: every email type in every locale, HTML and text, from fixed facts, a fixed send time and
a fixed test key. `UPDATE_GOLDEN=1 pytest tests/emails/test_email_golden.py` rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recovery_sim.atomic import write_text
from recovery_sim.domain.enums import EmailType
from recovery_sim.emails import render_email
from recovery_sim.emails.samples import SAMPLE_SENT_AT, sample_context
from recovery_sim.settings.config import SUPPORTED_LOCALES

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "emails"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", list(EmailType), ids=lambda k: k.value)
def test_golden(kind, locale, key, all_on):
    email = render_email(
        kind, sample_context(kind, locale, sent_at=SAMPLE_SENT_AT), locale, "northwind", all_on, key=key
    )
    outputs = {
        GOLDEN / locale / f"{kind.value}.html": email.html,
        GOLDEN
        / locale
        / f"{kind.value}.txt": f"Subject: {email.subject}\nPreheader: {email.preheader}\n\n{email.text}",
    }
    for path, content in outputs.items():
        if UPDATE:
            write_text(content, path)
        assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
        assert path.read_text(encoding="utf-8") == content, f"{path.name} changed; UPDATE_GOLDEN=1 accepts it"
