"""Human-readable renderings of a certificate: a Markdown page and a few-line summary.

Neither is signed: the JSON file and its ``.sig`` are authoritative. A
certificate over synthetic data opens both with a SYNTHETIC banner.
"""

from __future__ import annotations

from typing import Any

from rlx_tui.units import human_bytes

_MAX_LISTED = 20
SYNTHETIC_BANNER = "SYNTHETIC DATA - NOT MARKET DATA"


def _request_line(request: dict[str, Any]) -> str:
    return (
        f"{', '.join(request['tables'])} | {', '.join(request['exchanges'])} | "
        f"{', '.join(request['symbols'])} | {request['start']} .. {request['end']} (inclusive)"
    )


def _source_line(source: dict[str, Any]) -> str:
    parts = [str(source.get("name"))]
    if source.get("endpoint"):
        parts.append(f"endpoint {source['endpoint']}")
    if source.get("bucket"):
        parts.append(f"bucket {source['bucket']}")
    return ", ".join(parts)


def render_markdown(cert: dict[str, Any]) -> str:
    """The ``cert-<id>.md`` page: banner, facts, totals per table, waivers, warnings, notes."""
    out: list[str] = []
    if cert.get("synthetic"):
        out += [f"# ⚠ {SYNTHETIC_BANNER} ⚠", "", f"> **{cert.get('notice')}**", ""]
    result = cert["result"]
    totals = cert["totals"]
    synthetic = bool(cert.get("synthetic"))
    out += [
        f"# Data readiness certificate {cert['id']}",
        "",
        f"- **Result:** {result['status']} ({totals['partitions']} partitions, "
        f"{totals['rows']:,} rows, {human_bytes(totals['bytes'])}; {totals['waived']} waived)",
        f"- **Issued:** {cert['issued_at']}",
        f"- **Request:** {_request_line(cert['request'])}",
        f"- **Source:** {_source_line(cert['source'])}" + (" — **SYNTHETIC**" if synthetic else ""),
        "- **Software:** " + ", ".join(f"{k} {v}" for k, v in sorted(cert["software"].items())),
        f"- **Thresholds:** {len(cert['thresholds']['sets'])} set(s), {cert['thresholds']['digest']}",
        f"- **Payload:** `{cert['payload']['manifest']}` in `{cert['payload']['root']}` "
        f"(Payload-Oxum {cert['payload']['payload_oxum']}; hashes {cert['payload']['hashes']})",
        f"- **Signed:** {cert['signing']['algorithm']}, key {cert['signing']['fingerprint']}",
        f"- **Digest:** {cert['digest']}",
        "- **Previous:** "
        + (f"{cert['previous']['id']} ({cert['previous']['digest']})" if cert.get("previous") else "none"),
        "",
        "## Totals per table",
        "",
        "| table | partitions | rows | bytes | first | last | warnings |",
        "|---|---:|---:|---:|---|---|---:|",
    ]
    for table, t in totals["tables"].items():
        out.append(
            f"| {table} | {t['partitions']} | {t['rows']:,} | {human_bytes(t['bytes'])} | "
            f"{t['first_time'] or '-'} | {t['last_time'] or '-'} | {t['warnings']} |"
        )
    if cert["waivers_applied"]:
        out += ["", "## Waived (missing at the source)", ""]
        out += [f"- {w['partition']}: {w['reason']} (waived by {w['by']})" for w in cert["waivers_applied"]]
    warnings = [(p["partition"], w) for p in cert["partitions"] for w in p["warnings"]]
    warnings += [("range", w) for w in result["range_checks"]["warnings"]]
    if warnings:
        out += ["", f"## Warnings ({len(warnings)})", ""]
        out += [f"- {where}: {w['check']}: {w['message']}" for where, w in warnings[:_MAX_LISTED]]
        if len(warnings) > _MAX_LISTED:
            out.append(f"- ... and {len(warnings) - _MAX_LISTED} more (see the JSON)")
    journals = (cert.get("journals") or {}).get("runs") or []
    if journals:
        out += ["", f"## Run journals ({len(journals)})", ""]
        out += ["| run | outcome | lines | started | ended | sha256 |", "|---:|---|---:|---|---|---|"]
        out += [
            f"| {j['run']} | {j['outcome']} | {j['lines']} | {j['started_at'] or '-'} | "
            f"{j['ended_at'] or '-'} | {j['sha256']} |"
            for j in journals[:_MAX_LISTED]
        ]
        if len(journals) > _MAX_LISTED:
            out.append(f"\n... and {len(journals) - _MAX_LISTED} more (see the JSON)")
    if cert["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in cert["notes"]]
    out += [
        "",
        "---",
        "This page is a rendering. The JSON certificate and its detached ed25519 signature "
        f"(`cert-{cert['id']}.json.sig`) are authoritative; verifying checks the signature, then that "
        "every listed file is present and no unlisted file was added (complete), then every sha256 (valid), "
        "then every run journal listed that is present (a changed one fails; an absent one is noted).",
        "",
    ]
    return "\n".join(out)


def render_summary(cert: dict[str, Any], json_name: str) -> str:
    """A few lines for a terminal or a log."""
    totals = cert["totals"]
    lines = [f"*** {SYNTHETIC_BANNER} ***"] if cert.get("synthetic") else []
    lines += [
        f"certificate {cert['id']}: {cert['result']['status']}",
        f"  {totals['partitions']} partitions, {totals['rows']:,} rows, {human_bytes(totals['bytes'])}, "
        f"{totals['waived']} waived, {cert['result']['partition_warnings']} warnings",
        f"  request: {_request_line(cert['request'])}",
        f"  source: {_source_line(cert['source'])}",
        f"  run journals: {_journals_line(cert)}",
        f"  signed by {cert['signing']['fingerprint']}",
        f"  digest {cert['digest']}",
        f"  file: {json_name}",
    ]
    return "\n".join(lines)


def _journals_line(cert: dict[str, Any]) -> str:
    journals = (cert.get("journals") or {}).get("runs") or []
    if not journals:
        return (
            "none (no detached run had ended in this data directory)"
            if "journals" in cert
            else "not recorded"
        )
    runs = ", ".join(str(j["run"]) for j in journals[-5:])
    more = f"{len(journals) - 5} earlier and " if len(journals) > 5 else ""
    return f"{len(journals)} recorded by digest ({more}run {runs})"
