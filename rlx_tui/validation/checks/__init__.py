"""The per-partition quality checks, one module per family (``quality.py`` runs them).

Each module holds both halves of its checks: ``plan_*`` functions add the aggregates
they need to the one scan pass (``scan.py``), and the judging functions turn the
pass's values (:class:`~rlx_tui.validation.checks.common.Aggregates`) into recorded
measurements and findings. Check ids and meanings are documented in ``partition.py``.

- ``common.py``: the pass's values, shared expressions, the "any is an error" count check.
- ``columns.py``: nulls, empty columns and the partition key's values (all tables).
- ``times.py``: time units, day bounds, order and latency (all tables with time columns).
- ``coverage.py``: gaps inside the day and coverage of its start and end.
- ``books.py``: book, level_1 and book_delta_v2 (levels, crossing, sequence numbers).
- ``trades.py``, ``funding.py``, ``candles.py``: those tables' own checks.
"""
