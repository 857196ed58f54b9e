"""`recovery-sim emails …`: render one email, or build the preview gallery.

Bad input (unknown type, locale or brand; a broken template) prints one paragraph to stderr and exits
with code 2, without a traceback and without writing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from recovery_sim.atomic import write_text
from recovery_sim.cli.common import fail, load_policy
from recovery_sim.emails.links import KEY_ENV, resolve_key
from recovery_sim.emails.render import parse_email_type, render_email
from recovery_sim.emails.samples import sample_context
from recovery_sim.settings.config import ConfigError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Render customer emails and build the preview gallery."
)


def register(parent: typer.Typer) -> None:
    """Mount `emails` on the main app."""
    parent.add_typer(app, name="emails")


def _key_notice() -> None:
    key = resolve_key(None)
    if key.label.startswith("preview"):
        typer.echo(
            f"note: links are signed with a per-process preview key; set {KEY_ENV} for real ones", err=True
        )


@app.command("render")
def render_command(
    email_type: Annotated[str, typer.Argument(help="Email type, e.g. payment_failed.")],
    locale: Annotated[str, typer.Option(help="en, fr, de, es or pt_BR.")] = "en",
    brand: Annotated[str, typer.Option(help="Shipped brand name or a brand TOML file.")] = "northwind",
    policy: Annotated[
        str, typer.Option(help="Policy name or TOML file (its link settings, R3a/R3b).")
    ] = "all-on",
    templates: Annotated[
        Path | None, typer.Option(help="Folder of templates overriding ours by name.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the HTML here (the text version if FILE ends .txt).")
    ] = None,
) -> None:
    """Render one email with realistic sample facts (see docs/emails.md)."""
    try:
        kind = parse_email_type(email_type)
        email = render_email(
            kind,
            sample_context(kind, locale),
            locale=locale,
            branding=brand,
            policy=load_policy(policy),
            template_dir=templates,
        )
        _key_notice()
        if out is None:
            sys.stdout.write(f"Subject: {email.subject}\nPreheader: {email.preheader}\n\n{email.text}")
            return
        write_text(email.text if out.suffix == ".txt" else email.html, out)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {out}", err=True)


@app.command("preview")
def preview_command(
    out: Annotated[Path, typer.Option(help="Folder to write the gallery into.")],
    brand: Annotated[
        list[str] | None, typer.Option(help="Brand name or TOML file; repeat for several.")
    ] = None,
    locale: Annotated[
        list[str] | None, typer.Option(help="Locale; repeat for several (default: all).")
    ] = None,
    email_type: Annotated[
        list[str] | None, typer.Option("--type", help="Email type; repeat (default: all).")
    ] = None,
    policy: Annotated[str, typer.Option(help="Policy name or TOML file for the link settings.")] = "all-on",
    run: Annotated[
        Path | None, typer.Option(help="Folder written by `recovery-sim run --out`: adds customer timelines.")
    ] = None,
    customers: Annotated[int, typer.Option(min=1, help="Customers sampled for the timelines.")] = 12,
) -> None:
    """Build the static preview gallery: every email type × locale × brand, desktop and mobile."""
    from recovery_sim.emails.gallery import build_gallery
    from recovery_sim.emails.timelines import read_run

    try:
        timelines = read_run(run) if run is not None else None
        written = build_gallery(
            out,
            brand or None,
            locale or None,
            timelines,
            types=email_type or None,
            policy=load_policy(policy),
            customers=customers,
        )
        _key_notice()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write the gallery into {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {len(written)} files; open {out / 'index.html'}", err=True)
