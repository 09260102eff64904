"""Checks for user strings before they are used, shown or written anywhere.

* :func:`check_text`: no NUL, no control or format characters, no line or
  paragraph separators, no lone surrogates (bytes that were not UTF-8). A
  setting that passes can be printed on a terminal and written into a file
  without starting a new line or an escape sequence.
* :func:`check_endpoint_url`: a strict S3 endpoint URL: ``http`` or ``https``,
  a host name or IP address, an optional port in 1..65535, an optional plain
  path; no user name or password, no query, no fragment, no whitespace.
* :func:`shown`: a short, escaped form of a hostile value for error messages.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

MAX_SETTING_CHARS = 4096
MAX_URL_CHARS = 2048
# Categories refused anywhere in a setting: control, format (bidi overrides, zero-width...),
# surrogates (undecodable bytes), line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_URL_PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")


class UnsafeText(ValueError):
    """A user string that must not be used; the message says why (never the whole value)."""


def shown(value: object, limit: int = 60) -> str:
    """``repr`` of ``value`` cut to ``limit`` characters: escapes control characters, never long."""
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


def bad_character(value: str) -> str | None:
    """A description of the first refused character in ``value``, or None when it is clean."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            return f"bytes that are not valid UTF-8 at position {index + 1}"
        if category in _REFUSED_CATEGORIES:
            name = "NUL" if char == "\x00" else f"U+{ord(char):04X}"
            return f"a control character ({name}) at position {index + 1}"
    return None


def printable(text: object, limit: int = 500) -> str:
    """``text`` safe for a terminal: refused characters become escapes (``\\x1b``); cut at ``limit``.

    For what comes from files rlx-tui did not write itself (a sidecar's reason, a
    certificate's fields): they must not move the cursor or recolour the screen.
    """
    out = []
    for char in str(text)[:limit]:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            out.append(repr(char)[1:-1] if char.isascii() else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def check_text(name: str, value: str, *, limit: int = MAX_SETTING_CHARS) -> str:
    """Return ``value`` if it is printable text of at most ``limit`` characters, else raise UnsafeText."""
    if not isinstance(value, str):
        raise UnsafeText(f"{name} must be text")
    if len(value) > limit:
        raise UnsafeText(f"{name} is {len(value):,} characters long (at most {limit:,})")
    problem = bad_character(value)
    if problem:
        raise UnsafeText(f"{name} contains {problem}: remove it")
    return value


def _check_host(host: str) -> None:
    if host.startswith("["):
        if not host.endswith("]"):
            raise UnsafeText("endpoint URL has an unclosed [IPv6] host")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UnsafeText("endpoint URL host is not a valid IPv6 address") from None
        return
    if not host:
        raise UnsafeText("endpoint URL has no host, e.g. https://s3.example.com")
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeText(f"endpoint URL host {shown(host)} is not a valid IPv4 address") from None
        return
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise UnsafeText(f"endpoint URL host {shown(host)} is not a valid host name")


def check_endpoint_url(value: str) -> str:
    """Return ``value`` if it is a safe S3 endpoint URL (see the module docstring), else raise UnsafeText.

    The messages never repeat a user name or password the URL may carry.
    """
    if not isinstance(value, str) or not value:
        raise UnsafeText("endpoint URL is empty")
    if len(value) > MAX_URL_CHARS:
        raise UnsafeText(f"endpoint URL is longer than {MAX_URL_CHARS} characters")
    problem = bad_character(value)
    if problem:
        raise UnsafeText(f"endpoint URL contains {problem}")
    if not value.isascii() or any(char.isspace() for char in value):
        raise UnsafeText("endpoint URL must be plain ASCII without spaces (use punycode for IDN hosts)")
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise UnsafeText("endpoint URL must start with http:// or https://")
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        raise UnsafeText("endpoint URL must not carry a user name or password: put credentials in .env")
    if "?" in value or "#" in value:
        raise UnsafeText("endpoint URL must not have a query (?) or fragment (#)")
    if "\\" in value or "%" in value:
        raise UnsafeText("endpoint URL must not contain backslashes or %-escapes")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise UnsafeText(
            f"endpoint URL cannot be parsed ({exc}): check the host (IPv6 in [brackets])"
        ) from None
    if authority.endswith(":"):
        raise UnsafeText("endpoint URL has an empty port after ':'")
    host = authority
    port_text = ""
    if authority.startswith("["):
        close = authority.find("]")
        host = authority[: close + 1] if close >= 0 else authority
        port_text = authority[close + 1 :].removeprefix(":") if close >= 0 else ""
    elif ":" in authority:
        host, port_text = authority.rsplit(":", 1)
    _check_host(host)
    if port_text and (not port_text.isdigit() or not 1 <= int(port_text) <= 65535):
        raise UnsafeText(f"endpoint URL port {shown(port_text)} is not a number from 1 to 65535")
    if not _URL_PATH.match(parts.path) or "/../" in f"{parts.path}/" or "/./" in f"{parts.path}/":
        raise UnsafeText("endpoint URL path may hold only letters, digits and . _ ~ / -")
    return value
