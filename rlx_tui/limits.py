"""The stated limits on work and on untrusted input (README and SECURITY.md quote these numbers).

A request, a plan or a certificate larger than these is refused with one
line before any expensive work, so no input can make rlx-tui run for minutes
or grow without bound.
"""

from __future__ import annotations

MAX_PLAN_PARTITIONS = 50_000  # partitions in one request, after clamping to the days the source holds
MAX_NAMES = 100  # tables, symbols or exchanges named in one request, each
MAX_ENV_FILE_BYTES = 64 * 1024  # .env
MAX_KEY_FILE_BYTES = 16 * 1024  # an ed25519 private key, PEM or OpenSSH
MAX_SIGNATURE_BYTES = 1024  # a detached signature file (base64 of 64 bytes)
MAX_CERTIFICATE_BYTES = 256 * 1024 * 1024  # a certificate listing MAX_PLAN_PARTITIONS partitions fits
MAX_SIDECAR_BYTES = 16 * 1024 * 1024  # one partition's _manifest.json
MAX_SMALL_FILE_BYTES = 1024 * 1024  # trusted-signers.txt and similar
MAX_JSON_DEPTH = 32  # a certificate is 6 levels deep
MIN_FREE_BYTES = 1024 * 1024  # commands that write refuse to start below this (exit 6)
MAX_JOURNAL_BYTES = 256 * 1024 * 1024  # one run's events.jsonl (a 50,000-partition run: about 50 MB)
MAX_CERTIFIED_JOURNALS = 10_000  # run journals one certificate lists (and verify hashes)
