"""Frames as an analyst reads them: money with its currency, rates in %, whole counts, times to the minute.

Polars' own display cuts strings mid-word, shows means of counts as `104.0`, timestamps with
microseconds and money in minor units. `table` formats a copy for display only (the frame itself is
untouched) and renders it as an HTML table that never truncates a cell, plus a plain-text version.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recovery_sim.analysis import breakdowns, charts

MONEY_COLUMNS = breakdowns.MONEY_METRICS | {"price", "open", "uncollectible", "void"}
"""Columns in minor units of the row's currency, wherever they appear (`summary` names its amounts
left open, written off and voided by the invoice status)."""
RATE_SUFFIXES = ("_rate", "_share", "share", "_pct")
IDENTIFIERS = re.compile(r"(^|_)(id|period|attempts?|seed|replication)$")
"""Integers shown as they are (no thousands separator): ids, periods, attempt numbers."""
DEFAULT_ROWS = 50
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
_STYLE = """<style>
table.rs-table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
table.rs-table th, table.rs-table td { padding: 3px 10px; vertical-align: top; }
table.rs-table td { border-bottom: 1px solid #e3e3e3; }
table.rs-table th { border-bottom: 2px solid #bbb; white-space: nowrap; }
table.rs-table .rs-num { font-variant-numeric: tabular-nums; }
table.rs-table caption { caption-side: bottom; text-align: left; color: #666; padding-top: 4px; }
.rs-table-title { font-weight: 600; margin: 8px 0 2px; }
</style>"""


@dataclass(frozen=True)
class Table:
    """A frame ready to show: `formatted` holds the display strings, `frame` the values behind them."""

    frame: pl.DataFrame
    formatted: pl.DataFrame
    numeric: frozenset[str]
    """Columns aligned right (numbers, money); times never wrap."""
    title: str | None = None
    rows: int = DEFAULT_ROWS

    def _repr_html_(self) -> str:
        shown = self.formatted.head(self.rows)
        css = {c: self._css(c) for c in shown.columns}
        head = "".join(f"<th{css[c]}>{html.escape(c)}</th>" for c in shown.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td{css[c]}>{html.escape(v)}</td>" for c, v in zip(shown.columns, row, strict=True))
            + "</tr>"
            for row in shown.iter_rows()
        )
        caption = f"<caption>{html.escape(self._footer())}</caption>" if self._footer() else ""
        title = f'<div class="rs-table-title">{html.escape(self.title)}</div>' if self.title else ""
        table_html = f"{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        return f'{_STYLE}{title}<table class="rs-table">{table_html}</table>'

    def __repr__(self) -> str:
        shown = self.formatted.head(self.rows)
        widths = {c: max([len(c), *(len(v) for v in shown[c])]) for c in shown.columns}

        def line(values: Iterable[str]) -> str:
            cells = (
                v.rjust(widths[c]) if c in self.numeric else v.ljust(widths[c])
                for c, v in zip(shown.columns, values, strict=True)
            )
            return "  ".join(cells).rstrip()

        text = [line(shown.columns), line("-" * widths[c] for c in shown.columns)]
        text += [line(row) for row in shown.iter_rows()]
        return "\n".join(
            ([self.title] if self.title else []) + text + ([self._footer()] if self._footer() else [])
        )

    def _css(self, column: str) -> str:
        """Alignment inline: front ends' own table styles (JupyterLab right-aligns every cell) win
        over a stylesheet's, never over the cell's own."""
        if column in self.numeric:
            return ' class="rs-num" style="text-align: right; white-space: nowrap"'
        dtype = self.frame.schema.get(column)
        nowrap = dtype is not None and dtype.is_temporal()
        return f' style="text-align: left{"; white-space: nowrap" if nowrap else ""}"'

    def _footer(self) -> str:
        total = self.formatted.height
        if total > self.rows:
            return f"first {self.rows:,} of {total:,} rows"
        return "no rows" if total == 0 else ""


def table(
    frame: pl.DataFrame,
    *,
    money: Iterable[str] = (),
    rates: Iterable[str] = (),
    currency: str = "currency",
    rows: int = DEFAULT_ROWS,
    title: str | None = None,
    decimals: int = 1,
    right: Iterable[str] = (),
) -> Table:
    """`frame` formatted for reading; nothing is cut, nothing is converted in `frame` itself.

    Money columns (minor units) are found by name (`billed`, `recovered_revenue`, `amount`, `price`, …)
    or given in `money`; `currency` names the column holding each row's currency, or is a currency code
    for the whole table. Rates (`…_rate`, `…share`, or `rates`) show as percentages; whole-valued floats
    (means of counts) as integers; timestamps to the minute with their zone. Numbers align right, and
    so do the columns in `right` (say, already formatted figures).
    """
    code = currency if currency not in frame.columns and _CURRENCY_CODE.match(currency) else None
    has_currency = currency in frame.columns or code is not None
    money = set(money) | {c for c in frame.columns if c in MONEY_COLUMNS and frame[c].dtype.is_numeric()}
    if money and not has_currency:
        raise ValueError(f"money columns {sorted(money)} need a currency column or code, not {currency!r}")
    rates = set(rates) | {c for c in frame.columns if _is_rate(c, frame[c].dtype)}
    currencies = (
        [code] * frame.height if code else (frame[currency].cast(pl.String).to_list() if has_currency else [])
    )
    formatted = {}
    for name in frame.columns:
        values = frame[name].to_list()
        if name in money:
            formatted[name] = [charts.format_money(v, c) for v, c in zip(values, currencies, strict=True)]
        else:
            show = _formatter(name, frame[name], name in rates, decimals)
            formatted[name] = ["–" if v is None else show(v) for v in values]
    numeric = frozenset(
        c for c in frame.columns if c in money or c in set(right) or frame[c].dtype.is_numeric()
    )
    strings = pl.DataFrame(formatted, schema=dict.fromkeys(frame.columns, pl.String))
    return Table(frame, strings, numeric, title, rows)


def _is_rate(name: str, dtype: pl.DataType) -> bool:
    return dtype.is_float() and (name in breakdowns.PERCENT_METRICS or name.endswith(RATE_SUFFIXES))


def _formatter(name: str, column: pl.Series, rate: bool, decimals: int) -> Callable[[object], str]:
    """How one column's values read: chosen once per column from its dtype and name."""
    dtype = column.dtype
    if rate:
        return lambda v: f"{v:.{decimals}%}"
    if dtype.is_integer():
        return str if IDENTIFIERS.search(name) else (lambda v: f"{v:,}")
    if dtype.is_float():
        values = column.drop_nulls().drop_nans()
        whole = (values == values.round(0)).all()
        return (lambda v: f"{v:,.0f}") if whole else (lambda v: f"{v:,.{decimals}f}")
    if dtype == pl.Boolean:
        return lambda v: "yes" if v else "no"
    if isinstance(dtype, pl.Datetime):
        return _timestamp
    if isinstance(dtype, pl.List | pl.Array):
        return lambda v: ", ".join(map(str, v))
    return str


def _timestamp(value: dt.datetime) -> str:
    """To the minute, with its zone: '2026-03-04 09:15 UTC' (naive times carry no zone)."""
    zone = value.tzname()
    return value.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


def stats_table(stats: pl.DataFrame, metrics: Sequence[str] | None = None, level: float = 0.95) -> Table:
    """`Comparison.table` (or a breakdown) as read: each metric's mean and CI in its own unit.

    Money in the row's currency, rates in %, counts with one decimal (they are means over
    replications); `metrics` picks and orders the rows' metrics."""
    if metrics is not None:
        order = {m: i for i, m in enumerate(metrics)}
        stats = stats.filter(pl.col("metric").is_in(list(metrics))).sort(
            pl.col("metric").replace_strict(order, return_dtype=pl.Int32), maintain_order=True
        )
    keyed = "key" in stats.columns

    def show(metric: str, value: float | None, currency: str) -> str:
        if value is None:
            return "–"
        if metric in MONEY_COLUMNS:
            return charts.format_money(value, currency)
        return charts.format_rate(value) if metric in breakdowns.PERCENT_METRICS else f"{value:,.1f}"

    rows = [
        {
            "policy": r["arm"],
            "currency": r["currency"],
            **({"key": str(r["key"])} if keyed else {}),
            "metric": r["metric"].replace("_", " "),
            "mean": show(r["metric"], r["mean"], r["currency"]),
            f"{level:.0%} CI": f"{show(r['metric'], r['ci_low'], r['currency'])} – "
            f"{show(r['metric'], r['ci_high'], r['currency'])}",
        }
        for r in stats.iter_rows(named=True)
    ]
    columns = ["policy", "currency", *(["key"] if keyed else []), "metric", "mean", f"{level:.0%} CI"]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
    return Table(stats, frame, frozenset({"mean", f"{level:.0%} CI"}), rows=max(DEFAULT_ROWS, frame.height))


def files(folder: str | Path) -> pl.DataFrame:
    """The files in `folder` (not below it), by name, with their size in kB."""
    paths = sorted(p for p in Path(folder).iterdir() if p.is_file())
    return pl.DataFrame(
        {"file": [p.name for p in paths], "kB": [round(p.stat().st_size / 1024, 1) for p in paths]},
        schema={"file": pl.String, "kB": pl.Float64},
    )
