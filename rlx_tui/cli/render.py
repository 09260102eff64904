"""What the commands print: one function per result, plain text or ``--json``.

Untrusted text (a sidecar's reason, a partition note) goes through
:func:`~rlx_tui.safety.printable` before it reaches the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rlx_tui.safety import printable
from rlx_tui.units import human_bytes, human_seconds

if TYPE_CHECKING:
    from rlx_tui.service.certify import CertifyResult, IssuedCertificate
    from rlx_tui.service.connection import ConnectionReport
    from rlx_tui.service.plans import PlanSummary
    from rlx_tui.service.store import Move, StoreStatus, ValidateResult
    from rlx_tui.sources.quota import TransferTotals


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def say(line: str) -> None:
    """One line on stderr; a terminal that is gone (SIGHUP, a closed pipe) is not an error."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def silence_stdout() -> None:
    """The reader of our output went away: send the rest (and the final flush) nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def notices(lines: list[str] | tuple[str, ...]) -> None:
    for notice in lines:
        print(f"warning: {notice}", file=sys.stderr)


def connection(report: ConnectionReport, source: str, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict(source))
        return
    print(report.message)
    if report.transfer_methods:
        print(
            "transfer: "
            + ", ".join(f"{t} via {m}" for t, m in report.transfer_methods.items())
            + " (the service's answer)"
        )
    print(report.usage_line)
    notices(report.notices)


def clamp_note(summary: PlanSummary) -> None:
    if summary.clamp_note:
        print(f"rlx-tui: {summary.clamp_note}", file=sys.stderr)


def plan(summary: PlanSummary, as_json: bool) -> None:
    """The plan, one line per partition and a total (``list-inventory``, ``download --dry-run``)."""
    if as_json:
        emit_json(summary.to_dict())
        return
    if summary.synthetic:
        print("SYNTHETIC: demo lake data, not real market data")
    for p in summary.partitions:
        size = human_bytes(p.bytes or p.expected_bytes)
        note = f"  ({p.reason})" if p.reason else ""
        print(f"{p.key.id:<48} {p.state.value:<18} {size:>10}{printable(note)}")
    states = ", ".join(f"{v} {k}" for k, v in sorted(summary.states.items()))
    print(
        f"{len(summary.partitions)} partitions ({states}); to fetch: {summary.to_fetch}, "
        f"~{human_bytes(summary.expected_bytes)}, ~{human_seconds(summary.expected_seconds)}"
    )
    if summary.refetch_bytes:
        print(
            f"retry: {human_bytes(summary.refetch_bytes)} more, fetched again for quarantined partitions "
            "(metered again)"
        )
    if summary.usage_line:
        print(summary.usage_line)


def transfer_line(totals: TransferTotals) -> str:
    """The run's bytes at the source, and how many were fetched again (retries, quarantined partitions)."""
    again = (
        f"; {human_bytes(totals.again_bytes)} of it fetched again (retries "
        f"{human_bytes(totals.retry_bytes)}, quarantined partitions {human_bytes(totals.refetch_bytes)})"
        if totals.again_bytes
        else "; nothing fetched twice"
    )
    return f"transfer: {human_bytes(totals.bytes)} from the source{again}"


def transfer_json(totals: TransferTotals, stream: TextIO) -> None:
    print(json.dumps({"event": "transfer", **totals.to_dict()}), file=stream, flush=True)


def status(
    data_dir: Path,
    store: StoreStatus,
    summary: PlanSummary | None,
    as_json: bool,
    *,
    run: dict[str, Any] | None = None,
    run_lines: Sequence[str] = (),
) -> None:
    """Zone counts and bytes, quarantine reasons, the latest run, and (with a range) the remaining work."""
    if as_json:
        payload = store.to_dict()
        payload["data_dir"] = str(data_dir)
        payload["run"] = run
        if summary is not None:
            payload["plan"] = summary.plan_summary
        emit_json(payload)
        return
    print(f"data directory: {data_dir}")
    for zone, stats in store.zones.items():
        print(f"  {zone.value:<11} {stats.partitions:>6} partitions {human_bytes(stats.bytes):>12}")
    if store.quarantined:
        print("quarantined:")
        for key, reason in store.quarantined:
            print(f"  {key.id}: {printable(reason)}")  # a sidecar may come from elsewhere
    for line in run_lines:
        print(line)
    if summary is not None:
        states = ", ".join(f"{v} {k}" for k, v in sorted(summary.states.items()))
        print(
            f"request: {len(summary.partitions)} partitions ({states}); remaining to fetch: "
            f"{summary.to_fetch} (~{human_bytes(summary.expected_bytes)})"
        )


def move(item: Move) -> None:
    """One re-validated partition, as it happens."""
    moved = f"{item.before.value} -> {item.after.value}"
    reason = f": {printable(item.reason)}" if item.reason else ""
    print(f"{item.key.id:<48} {moved}{reason}")


def validated(result: ValidateResult, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    quarantined = len(result.quarantined)
    print(
        f"validated {len(result.moves)} partition(s): {len(result.moves) - quarantined} ready, "
        f"{quarantined} quarantined"
    )


def refused(result: CertifyResult, as_json: bool) -> None:
    """What blocks a certificate."""
    if as_json:
        emit_json(
            {
                "issued": False,
                "blockers": [
                    {"kind": b.kind, "partition": b.partition_id, "reason": b.reason} for b in result.blockers
                ],
            }
        )
    elif len(result.blockers) == 1:
        blocker = result.blockers[0]
        say(f"rlx-tui: certificate refused: {blocker.kind.replace('_', ' ')}: {blocker}")
    else:
        say(f"rlx-tui: certificate refused:\n{result.refusal}")


def issued(certificate: IssuedCertificate, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "issued": True,
                "id": certificate.id,
                "json_path": str(certificate.json_path),
                "text_path": str(certificate.text_path),
                "digest": certificate.digest,
                "fingerprint": certificate.fingerprint,
                "partitions": certificate.partitions,
                "total_bytes": certificate.total_bytes,
                "synthetic": certificate.synthetic,
            }
        )
    else:
        print(certificate.summary)
        print(f"written: {certificate.json_path}")
