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
from typing import Any

DIGEST_FIELD = "digest"


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
