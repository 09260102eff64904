"""Canonical JSON: the one byte form that is hashed, signed and stored.

Canonical form: keys sorted, separators ``","`` and ``":"`` (no whitespace),
UTF-8 without ASCII escaping, no NaN or infinity. Python's ``json`` writes
floats in their shortest round-trip form, so the same document always gives
the same bytes. This is close to RFC 8785 (JCS) for the values a certificate
holds (strings, integers, booleans, ordinary floats).

The certificate digest is ``sha256:<hex>`` over the canonical form of the
document *without* its ``digest`` field; the stored file is the canonical form
*with* it, and the signature covers those stored bytes exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from rlx_tui.fs_guard import read_regular
from rlx_tui.limits import MAX_CERTIFICATE_BYTES, MAX_JSON_DEPTH

DIGEST_FIELD = "digest"


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists and objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_document(data: bytes) -> dict[str, Any]:
    """A certificate's JSON object; ValueError (one line) for anything else, however hostile.

    Deep nesting is refused (json's own recursion limit, then :data:`MAX_JSON_DEPTH`).
    """
    try:
        document = json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply to be a certificate") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if depth_exceeds(document, MAX_JSON_DEPTH):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels: not a certificate")
    return document


def read_document(path: Path, *, follow: bool = True) -> tuple[bytes, dict[str, Any]]:
    """The exact bytes and the document of a certificate file: a regular file of bounded size.

    Raises :class:`~rlx_tui.fs_guard.FileRefused` (a FIFO, a device, too big),
    OSError (missing, unreadable) or ValueError (not a certificate's JSON).
    """
    data, _ = read_regular(Path(path), MAX_CERTIFICATE_BYTES, f"certificate {Path(path).name}", follow=follow)
    return data, parse_document(data)


def jsonable(value: Any) -> Any:
    """A copy of ``value`` made of JSON types only; non-finite floats become strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item"):  # numpy scalars that slipped through
        return jsonable(value.item())
    return str(value)


def canonical_bytes(document: Any) -> bytes:
    """The canonical UTF-8 bytes of ``document`` (which must already be :func:`jsonable`)."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_tag(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def document_digest(document: dict[str, Any]) -> str:
    """The digest of a certificate: sha256 over its canonical form without the digest field."""
    body = {k: v for k, v in document.items() if k != DIGEST_FIELD}
    return sha256_tag(canonical_bytes(body))


def seal(document: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Add the digest field; return the sealed document and its exact canonical bytes."""
    sealed = dict(document)
    sealed[DIGEST_FIELD] = document_digest(document)
    return sealed, canonical_bytes(sealed)
