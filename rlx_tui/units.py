"""Human units for sizes and durations, one spelling everywhere (CLI, dashboard, certificate)."""

from __future__ import annotations


def human_bytes(value: float) -> str:
    """Decimal units (as disks and transfer rates are quoted): ``1.0 MB`` = 1,000,000 bytes."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def human_seconds(value: float | None) -> str:
    """``45s``, ``3m05s``, ``2h10m``; ``unknown`` for None."""
    if value is None:
        return "unknown"
    value = round(value)
    hours, rest = divmod(value, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"
