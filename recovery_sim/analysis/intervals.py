"""Confidence intervals across replications: per-arm t-intervals and paired differences vs the first arm.

Why paired: every arm of a comparison sees the same customers and draws (common random numbers), so
the difference of two arms, replication by replication, carries only the policy's effect and its
interval is far tighter than the two arms' intervals would suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import polars as pl


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1.0 - x) / b


@cache
def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution (p > 0.5), by bisection on its CDF; exact to ~1e-12."""
    if not 0.5 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df > 0, got p={p}, df={df}")
    tail = 2.0 * (1.0 - p)  # two-sided tail probability: P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2)
    lo, hi = 0.0, 1.0
    while _betainc(df / 2.0, 0.5, df / (df + hi * hi)) > tail:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if _betainc(df / 2.0, 0.5, df / (df + mid * mid)) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def _t_column(df: pl.Expr, level: float) -> pl.Expr:
    p = 0.5 + level / 2.0
    return df.map_elements(
        lambda v: t_quantile(p, float(v)) if v is not None and math.isfinite(v) and v > 0 else None,
        return_dtype=pl.Float64,
    )


def summarize(
    frame: pl.DataFrame, by: Sequence[str], value: str = "value", level: float = 0.95
) -> pl.DataFrame:
    """Mean and t-interval over replications: n, mean, sd, ci_low, ci_high per group."""
    stats = frame.group_by(by).agg(
        pl.col(value).count().alias("n"),
        pl.col(value).mean().alias("mean"),
        pl.col(value).std(ddof=1).alias("sd"),
    )
    half = _t_column(pl.col("n") - 1, level) * pl.col("sd") / pl.col("n").sqrt()
    return (
        stats.with_columns(half.alias("_half"))
        .with_columns(
            (pl.col("mean") - pl.col("_half")).alias("ci_low"),
            (pl.col("mean") + pl.col("_half")).alias("ci_high"),
        )
        .drop("_half")
        .sort(by)
    )


def paired_differences(
    per_rep: pl.DataFrame, baseline: str, by: Sequence[str], level: float = 0.95
) -> pl.DataFrame:
    """Per-replication difference arm − baseline (common random numbers), then a t-interval on it.

    Also returns the unpaired (Welch) interval of the same difference, to show what pairing buys.
    """
    base = per_rep.filter(pl.col("arm") == baseline).select(
        "replication", *by, pl.col("value").alias("_base")
    )
    diffs = per_rep.join(base, on=["replication", *by], how="inner").with_columns(
        (pl.col("value") - pl.col("_base")).alias("diff")
    )
    paired = summarize(diffs, ["arm", *by], value="diff", level=level).select(
        "arm", *by,
        pl.col("mean").alias("diff_mean"),
        pl.col("ci_low").alias("diff_ci_low"),
        pl.col("ci_high").alias("diff_ci_high"),
    )  # fmt: skip
    each = summarize(per_rep, ["arm", *by], level=level)
    b = each.filter(pl.col("arm") == baseline).select(
        *by, pl.col("n").alias("_nb"), pl.col("sd").alias("_sb"), pl.col("mean").alias("_mb")
    )
    welch = each.join(b, on=list(by), how="inner")
    va = pl.col("sd") ** 2 / pl.col("n")
    vb = pl.col("_sb") ** 2 / pl.col("_nb")
    dof = (va + vb) ** 2 / (va**2 / (pl.col("n") - 1) + vb**2 / (pl.col("_nb") - 1))
    half = _t_column(dof, level) * (va + vb).sqrt()
    diff = pl.col("mean") - pl.col("_mb")
    welch = welch.with_columns(half.alias("_h")).select(
        "arm", *by,
        (diff - pl.col("_h")).alias("diff_unpaired_ci_low"),
        (diff + pl.col("_h")).alias("diff_unpaired_ci_high"),
    )  # fmt: skip
    return paired.join(welch, on=["arm", *by], how="left")
