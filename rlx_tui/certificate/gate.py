"""The gate: may a certificate be issued for this request, and if not, what stands in the way?

Every partition of the request is classified by what the staging store holds
(the store is the truth; the caller's ``failed`` and ``missing_at_source`` only
explain partitions the store does not hold):

* ready (sidecar readable, names this partition, has a file, no error finding,
  validated) -> certifiable;
* quarantined -> blocker with the quarantine reason;
* in raw or validating -> blocker ``not_validated``;
* absent and reported failed -> blocker with the failure cause;
* absent and missing at the source -> waived (recorded) when a waiver with a
  reason and a name covers it, else a blocker;
* absent otherwise -> ``not_fetched``;
* anything in ready that :func:`~rlx_tui.certificate.payload.compare` calls
  unexpected (a link, a stray file, an unlisted part file) -> ``unexpected``,
  exactly where ``verify`` would fail the certificate.

Waivers that match no missing partition (the partition is ready, or is not in
the request) are ignored and recorded as notes: they cannot hide anything, since
a real missing day still blocks unless its own waiver names it.

Cross-day checks run only once every partition is certifiable (running them
over holes would only repeat the holes). Their errors block; their warnings go
into the certificate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.certificate.payload import (
    compare,
    describe_unexpected,
    key_of_dir,
    key_of_payload,
    payload_path,
    ready_root,
    scan_ready,
)
from rlx_tui.limits import MAX_SIDECAR_BYTES
from rlx_tui.partitions import PartitionKey, Request, Waiver
from rlx_tui.staging import SIDECAR, PartitionManifest, StagingStore, Zone
from rlx_tui.validation.findings import Finding, Severity

BLOCKER_ORDER: tuple[str, ...] = (
    "not_fetched",
    "failed",
    "quarantined",
    "not_validated",
    "missing_at_source",
    "unexpected",
    "range_check",
)
_TITLES = {
    "not_fetched": "not fetched yet",
    "failed": "failed",
    "quarantined": "quarantined",
    "not_validated": "not validated (or changed since validation)",
    "missing_at_source": "missing at the source, not waived",
    "unexpected": "unexpected in ready (verify would fail the certificate)",
    "range_check": "cross-day checks failed",
}
_MAX_LINES_PER_KIND = 25

RangeChecks = Callable[..., list[Finding]]


@dataclass(frozen=True, slots=True)
class Blocker:
    """One thing standing in the way of a certificate."""

    kind: str
    partition_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.partition_id}: {self.reason}" if self.partition_id else self.reason


class CertificateRefused(Exception):
    """Issuing was refused; ``blockers`` lists why, in the order of :data:`BLOCKER_ORDER`."""

    def __init__(self, blockers: Sequence[Blocker]) -> None:
        self.blockers: list[Blocker] = sort_blockers(blockers)
        super().__init__(format_blockers(self.blockers))

    def __str__(self) -> str:
        return format_blockers(self.blockers)


def sort_blockers(blockers: Sequence[Blocker]) -> list[Blocker]:
    """Stable sort by kind, keeping each kind's order (the request's partition order)."""
    rank = {kind: i for i, kind in enumerate(BLOCKER_ORDER)}
    return sorted(blockers, key=lambda b: rank.get(b.kind, len(rank)))


def format_blockers(blockers: Sequence[Blocker]) -> str:
    """A readable, grouped list; long groups are cut (the full list stays on the exception)."""
    if not blockers:
        return "nothing stands in the way"
    lines = [f"{len(blockers)} thing(s) stand in the way of a certificate:"]
    for kind in [*BLOCKER_ORDER, *sorted({b.kind for b in blockers} - set(BLOCKER_ORDER))]:
        group = [b for b in blockers if b.kind == kind]
        if not group:
            continue
        lines.append(f"{_TITLES.get(kind, kind)} ({len(group)}):")
        lines += [f"  - {b}" for b in group[:_MAX_LINES_PER_KIND]]
        if len(group) > _MAX_LINES_PER_KIND:
            lines.append(f"  ... and {len(group) - _MAX_LINES_PER_KIND} more")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ReadyPartition:
    """A certifiable partition: its sidecar, and the raw sidecar dict (for fields the dataclass lacks)."""

    key: PartitionKey
    manifest: PartitionManifest
    raw: dict[str, Any]


@dataclass(slots=True)
class GateResult:
    """What the gate found; ``blockers`` empty means the partitions may be certified."""

    ready: list[ReadyPartition] = field(default_factory=list)
    waived: list[Waiver] = field(default_factory=list)
    blockers: list[Blocker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    range_findings: list[Finding] = field(default_factory=list)
    range_checker: str | None = None

    def refuse_if_blocked(self) -> None:
        if self.blockers:
            raise CertificateRefused(self.blockers)


def read_ready(store: StagingStore, key: PartitionKey) -> tuple[ReadyPartition | None, Blocker | None]:
    """The ready partition of ``key``, a blocker when ``ready`` holds something untrustworthy, or neither.

    Nothing is read through a link: a linked directory or file is a blocker.
    """
    directory = store.partition_dir(Zone.READY, key)
    sidecar = directory / SIDECAR
    try:
        raw = json.loads(fs_guard.read_file(store.data_dir, sidecar, MAX_SIDECAR_BYTES))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        manifest = PartitionManifest.from_dict(raw)
    except FileNotFoundError:
        try:
            present = fs_guard.lstat(store.data_dir, directory) is not None
        except OSError:
            present = True
        if present:
            return None, Blocker("not_validated", key.id, "in ready without a sidecar manifest")
        return None, None
    except fs_guard.UnsafePathError:
        return None, Blocker("unexpected", key.id, "a symbolic link on the way to its files (never followed)")
    except (OSError, fs_guard.FileRefused, ValueError, KeyError, TypeError, RecursionError) as exc:
        return None, Blocker("not_validated", key.id, f"ready sidecar cannot be read ({exc})")
    problem = _ready_problem(key, manifest, store.data_file_problem(Zone.READY, key))
    if problem:
        return None, Blocker("not_validated", key.id, problem)
    return ReadyPartition(key, manifest, raw), None


def _ready_problem(key: PartitionKey, manifest: PartitionManifest, file_problem: str | None) -> str | None:
    if manifest.key != key:
        return f"ready sidecar describes another partition ({manifest.key.id})"
    if manifest.zone is not Zone.READY:
        return f"sidecar in ready says zone {manifest.zone.value}"
    if not manifest.has_data:
        return "ready sidecar records no file checksum"
    if file_problem is not None:
        return f"{file_problem} in ready"
    errors = [f for f in manifest.findings if f.severity is Severity.ERROR]
    if errors:
        return "ready, but its sidecar records errors: " + "; ".join(f.message for f in errors)
    if manifest.validated_at is None:
        return "in ready, but its sidecar records no validation"
    return None


def _waiver_problem(waiver: Waiver) -> str | None:
    if not waiver.reason.strip():
        return f"waiver by {waiver.by or '(nobody)'} gives no reason"
    if not waiver.by.strip():
        return "waiver names no one (by)"
    return None


def assess(
    store: StagingStore,
    request: Request,
    *,
    missing_at_source: Collection[PartitionKey] = (),
    failed: Mapping[PartitionKey, str] | None = None,
) -> GateResult:
    """Classify every partition of ``request`` (see the module docstring). Never raises for blockers."""
    failed = failed or {}
    missing = set(missing_at_source)
    waivers: dict[str, Waiver] = {}
    result = GateResult()
    for waiver in request.waivers:
        if waiver.partition_id in waivers:
            result.notes.append(f"duplicate waiver for {waiver.partition_id}: the first one is used")
            continue
        waivers[waiver.partition_id] = waiver
    used: set[str] = set()
    for key in request.partitions():
        ready, blocker = read_ready(store, key)
        if ready is not None:
            result.ready.append(ready)
            continue
        if blocker is not None:
            result.blockers.append(blocker)
            continue
        held = store.find(key)
        if held is not None and held.zone is Zone.QUARANTINE:
            reason = held.quarantine_reason or "no reason recorded"
            result.blockers.append(Blocker("quarantined", key.id, reason))
        elif held is not None and held.zone is not Zone.READY:
            result.blockers.append(Blocker("not_validated", key.id, f"still in {held.zone.value}"))
        elif key in failed:
            result.blockers.append(Blocker("failed", key.id, failed[key] or "failed, no cause recorded"))
        elif key in missing:
            named = waivers.get(key.id)
            problem = _waiver_problem(named) if named else None
            if named is not None and problem is None:
                result.waived.append(named)
                used.add(key.id)
            else:
                why = problem or "no waiver; add one naming who excludes this day and why"
                result.blockers.append(Blocker("missing_at_source", key.id, f"missing at the source: {why}"))
                used.add(key.id)
        else:
            result.blockers.append(Blocker("not_fetched", key.id, "not fetched yet"))
    ready_ids = {r.key.id for r in result.ready}
    for pid, waiver in waivers.items():
        if pid in used:
            continue
        if pid in ready_ids:
            why = "not needed: the partition is ready"
        elif pid in {b.partition_id for b in result.blockers}:
            why = "ignored: the day is not missing at the source"
        else:
            why = "ignored: not a partition of this request"
        result.notes.append(f"waiver for {pid} (by {waiver.by}) {why}")
    blocked = {b.partition_id for b in result.blockers}
    result.blockers += [
        b for b in ready_tree_blockers(store, request, result.ready) if b.partition_id not in blocked
    ]
    result.blockers = sort_blockers(result.blockers)
    return result


def ready_tree_blockers(
    store: StagingStore, request: Request, ready: Sequence[ReadyPartition]
) -> list[Blocker]:
    """Where the ready tree differs from the certifiable partitions, by the rule ``verify`` applies.

    :func:`~rlx_tui.certificate.payload.scan_ready` and
    :func:`~rlx_tui.certificate.payload.compare` decide; a symbolic link, a
    stray file or an unlisted part file of the request blocks the certificate.
    """
    root = ready_root(store.data_dir)
    try:
        inventory = scan_ready(root, frozenset(request.partitions()), base=store.data_dir)
    except fs_guard.UnsafePathError as exc:
        return [Blocker("unexpected", None, str(exc))]
    differences = compare(inventory, [payload_path(p.key) for p in ready])
    blockers = []
    for path in differences.unexpected:
        depth = path.count("/")
        key = key_of_dir(str(PurePosixPath(path).parent) if depth == 4 else path) if depth in (3, 4) else None
        blockers.append(
            Blocker(
                "unexpected",
                key.id if key else None,
                f"{path}: {describe_unexpected(store.data_dir, root, path)}",
            )
        )
    for path in differences.missing:
        key = key_of_payload(path)
        blockers.append(
            Blocker("not_validated", key.id if key else None, f"{path} is not a regular file in ready")
        )
    return blockers


def default_range_checks() -> tuple[RangeChecks | None, str | None]:
    """``rlx_tui.validation.continuity.validate_range``, imported lazily, or why it is unavailable."""
    try:
        from rlx_tui.validation.continuity import validate_range
    except ImportError as exc:
        return None, f"cross-day checks are unavailable (rlx_tui.validation.continuity: {exc})"
    return validate_range, None


def checker_name(func: Callable[..., object]) -> str:
    """``module.qualname`` of a range-check callable, for the record."""
    module = getattr(func, "__module__", None) or "?"
    return f"{module}.{getattr(func, '__qualname__', repr(func))}"


def run_range_checks(
    result: GateResult,
    request: Request,
    range_checks: RangeChecks | None,
) -> None:
    """Run the cross-day checks over the certifiable partitions; errors become blockers.

    Waived (missing) days are left out of ``expected`` and passed as missing
    at source, so the check tells them apart and does not count them as holes.
    """
    func, unavailable = (range_checks, None) if range_checks is not None else default_range_checks()
    if func is None:
        result.blockers.append(Blocker("range_check", None, unavailable or "cross-day checks unavailable"))
        return
    result.range_checker = checker_name(func)
    waived = {PartitionKey.from_id(w.partition_id) for w in result.waived}
    expected = [k for k in request.partitions() if k not in waived]
    ready = {r.key: r.manifest for r in result.ready}
    findings = list(func(expected, ready, sorted(waived)))
    result.range_findings = findings
    for finding in findings:
        if Severity(finding.severity) is Severity.ERROR:
            result.blockers.append(Blocker("range_check", None, f"{finding.check}: {finding.message}"))
    result.blockers = sort_blockers(result.blockers)
