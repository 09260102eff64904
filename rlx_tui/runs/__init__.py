"""Detached runs: an acquisition in a process of its own, a journal of its events, a control socket.

A run lives in ``<data_dir>/runs/<run-id>/``:

* ``run.json``      what was asked, by which process, and how it ended (:mod:`.record`)
* ``events.jsonl``  every event, one JSON line each, with a sequence number (:mod:`.journal`)
* ``control.sock``  the owner-only Unix socket that steers and streams the run (:mod:`.control`)
* ``host.log``      the host process's stdout and stderr (normally empty; logs go to ``logs/``)

:func:`rlx_tui.runs.launcher.start_detached` starts a host (:mod:`.host`), which runs
the one engine through :mod:`.hosted` (the only module here that knows the service's
API). :mod:`.client` talks to a live run, :mod:`.liveness` finds it (and never trusts
a stale socket or a reused PID), :mod:`.summary` folds a journal into the figures a
dashboard or ``status`` shows. Linux only (``SO_PEERCRED``, ``/proc``).
"""
