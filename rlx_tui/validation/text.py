"""Number formatting for findings: thousands separators, seconds with a readable unit, shares."""

from __future__ import annotations


def num(value: int | float) -> str:
    """``1,204``; floats keep up to three decimals (``0.021``)."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``"1 row"``, ``"1,204 rows"``."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"


def secs(value_s: float) -> str:
    """``"10,800 s (3.0 h)"``, ``"300 s (5.0 min)"``, ``"0.021 s"``."""
    text = f"{num(round(value_s, 3))} s"
    if abs(value_s) >= 3600:
        return f"{text} ({value_s / 3600:.1f} h)"
    if abs(value_s) >= 120:
        return f"{text} ({value_s / 60:.1f} min)"
    return text


def pct(fraction: float) -> str:
    """``0.0001`` -> ``"0.01%"``."""
    return f"{fraction * 100:.4g}%"


def short(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
