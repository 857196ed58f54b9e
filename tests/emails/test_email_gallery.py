"""The preview gallery: pages per brand × locale × type, timelines from a run's frames, relative links
that stay inside the gallery, and atomic output."""

from __future__ import annotations

import re

import pytest
from email_fixtures import dunning_run

from recovery_sim import atomic
from recovery_sim.atomic import write_text
from recovery_sim.emails import files as files_module
from recovery_sim.emails.gallery import build_gallery, gallery_files
from recovery_sim.emails.timelines import Timelines, sample_customers
from recovery_sim.settings.config import ConfigError

TYPES = ["payment_failed", "invoice_reminder"]


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', html)


def test_gallery_pages_for_every_brand_locale_type(tmp_path, key):
    written = build_gallery(tmp_path, ["northwind", "acme-noir"], ["en", "fr"], types=TYPES, key=key)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"index.html", "gallery.css"} <= names
    for brand in ("northwind", "acme-noir"):
        for locale in ("en", "fr"):
            for kind in TYPES:
                base = f"emails/{brand}/{locale}/{kind}"
                assert {f"{base}.html", f"{base}.email.html", f"{base}.txt"} <= names
    page = (tmp_path / "emails/acme-noir/fr/payment_failed.html").read_text(encoding="utf-8")
    assert 'width="600"' in page and 'width="375"' in page and "Votre paiement" in page
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="#brand-northwind"' in index and 'href="#brand-acme-noir"' in index
    assert not list(tmp_path.rglob("*.tmp"))


def test_every_gallery_link_resolves_inside_the_gallery(tmp_path, key, run):
    build_gallery(tmp_path, ["northwind"], ["en", "fr"], run, types=TYPES, key=key)
    root = tmp_path.resolve()
    pages = [p for p in tmp_path.rglob("*.html") if not p.name.endswith(".email.html")]
    assert len(pages) > 5
    for page in pages:
        for link in _links(page.read_text(encoding="utf-8")):
            if link.startswith(("data:", "#")):
                continue
            assert "://" not in link and not link.startswith(("/", "mailto:")), (page, link)
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file() and root in target.parents, (page, link)


def test_preview_key_is_labelled_on_every_page(tmp_path, monkeypatch):
    monkeypatch.delenv("RECOVERY_SIM_LINK_KEY", raising=False)
    files = gallery_files(["northwind"], ["en"], types=["payment_failed"])
    for name, content in files.items():
        if name.endswith(".html") and not name.endswith(".email.html"):
            assert "preview key (random, this process only)" in content


def test_timelines_from_hand_built_frames(tmp_path, key, run):
    build_gallery(tmp_path, ["northwind"], ["en"], run, types=["payment_failed"], key=key)
    index = (tmp_path / "timelines/index.html").read_text(encoding="utf-8")
    assert 'href="customer-1.html"' in index and 'href="customer-2.html"' in index
    first = (tmp_path / "timelines/customer-1.html").read_text(encoding="utf-8")
    order = [
        first.index(s) for s in ("invoice_created", "payment_failed: Votre paiement", "payment_succeeded")
    ]
    assert order == sorted(order)  # events and emails in time order
    email = (tmp_path / "timelines/customer-1/01-payment_failed.email.html").read_text(encoding="utf-8")
    assert "49,00" in email and "provision est insuffisante" in email  # amount and decline from the events
    assert "https://billing.northwind.example/p/" in email  # the log says a live link went out
    second = (tmp_path / "timelines/customer-2.html").read_text(encoding="utf-8")
    assert "not delivered (test mode, R12)" in second and "no link" in second
    reminder = (tmp_path / "timelines/customer-2/01-invoice_reminder.email.html").read_text(encoding="utf-8")
    assert not re.search(r"billing\.northwind\.example/p/(?!invoice/)", reminder)  # no update link (R10b)
    assert "billing.northwind.example/p/invoice/" in reminder  # the invoice's own page (R5)
    assert "When (Europe/Paris)" in first and " CET" in first  # the customer's zone, named
    canceled = (tmp_path / "timelines/customer-2/02-subscription_canceled.email.html").read_text(
        encoding="utf-8"
    )
    assert (
        "As you requested, your subscription was canceled on" in canceled
    )  # no failed payment in its events


def test_timelines_fold_routine_renewals_and_show_the_escalation(tmp_path, key):
    build_gallery(tmp_path, ["northwind"], ["en"], dunning_run(), types=["payment_failed"], key=key)
    page = (tmp_path / "timelines/customer-3.html").read_text(encoding="utf-8")
    assert page.count('<tr class="fold">') == 1 and "2 renewal(s) paid at the first attempt" in page
    for step in ("attempt 1 of 8", "attempt 2 of 8", "final notice"):
        assert step in page
    assert "When (America/Sao_Paulo)" in page and "-03 " in page  # São Paulo's own clock
    emails = sorted((tmp_path / "timelines/customer-3").glob("*.email.html"))
    texts = [p.read_text(encoding="utf-8") for p in emails]
    failed = [t for p, t in zip(emails, texts, strict=True) if "payment_failed" in p.name]
    assert len(set(failed)) == len(failed) == 2  # each failure email says where dunning stands
    assert "1 de 8" in failed[0] and "2 de 8" in failed[1] and "falhou novamente" in failed[1]
    notice = next(t for p, t in zip(emails, texts, strict=True) if "final_notice" in p.name)
    assert "Último aviso" in notice and "R$" in notice and "NW-4F2A-0031" in notice


def test_timelines_accept_a_real_simulation_run(tmp_path, key, make_scenario):
    rs = pytest.importorskip("recovery_sim.api")
    from recovery_sim.settings.config import Policy

    result = rs.simulate(make_scenario(customers=60, months=4), Policy.named("all-on"), seed=3)
    files = gallery_files(["northwind"], ["en"], result, types=["payment_failed"], key=key, customers=6)
    customer_pages = [n for n in files if re.fullmatch(r"timelines/customer-\d+\.html", n)]
    assert customer_pages and all("not rendered" not in files[n] for n in customer_pages)


def test_timeline_sampling_covers_types_and_is_seeded(run):
    assert sample_customers(run.emails, 2) == [1, 2]
    assert sample_customers(run.emails, 1, seed=1) == sample_customers(run.emails, 1, seed=1)
    assert sample_customers(run.emails.clear(), 3) == []


def test_timelines_name_missing_columns(run):
    with pytest.raises(ConfigError, match="emails frame lacks column.s. link_included"):
        Timelines.of(type("R", (), {"emails": run.emails.drop("link_included"), "events": run.events,
                                    "customers": run.customers}))  # fmt: skip


def test_nothing_is_written_when_rendering_fails(tmp_path, key):
    out = tmp_path / "gallery"
    with pytest.raises(ConfigError, match="unknown locale"):
        build_gallery(out, ["northwind"], ["en", "xx"], key=key)
    assert not out.exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    write_text("old", target)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_text("new", target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_gallery_refuses_paths_outside_its_folder(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        files_module.write_tree(tmp_path, {"../escape.html": "x"})
    assert not (tmp_path.parent / "escape.html").exists()


def test_subjects_are_escaped_on_gallery_pages(key):
    from recovery_sim.emails.branding import Branding

    brand = Branding.named("northwind").model_copy(update={"name": "<b>Evil</b>"})
    files = gallery_files([brand], ["en"], types=["trial_will_end"], key=key)
    assert "<b>Evil</b>" not in files["index.html"] and "&lt;b&gt;Evil&lt;/b&gt;" in files["index.html"]
