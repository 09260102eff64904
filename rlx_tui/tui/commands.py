"""Command palette provider: every action of the app, searchable (Ctrl+P)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action on the app)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Start / resume run", "Fetch everything of the request that is not ready yet (s)", "start"),
    ("Pause / resume", "Pause downloads, or resume them (p)", "pause"),
    ("Stop run", "Stop after the partitions in flight; the next start resumes (x)", "stop"),
    ("Retry failed and quarantined", "Fetch failed and quarantined partitions again (r)", "retry"),
    ("Certify", "Issue the data readiness certificate when everything is ready (c)", "certify"),
    ("Verify certificate", "Check a certificate's signature, completeness and checksums (v)", "verify"),
    ("Toggle log panel", "Show or hide the engine's log lines (l)", "toggle_log"),
    ("Partition details", "Findings and sidecar of the highlighted partition (Enter)", "drill_down"),
    ("New request", "Back to the selection screen (n)", "new_request"),
    ("Show dashboard", "Back to the run's dashboard (Esc on the selection screen)", "show_dashboard"),
    ("Re-list the source", "List tables, symbols and exchanges again (Ctrl+R)", "rediscover"),
    ("Quit", "Quit; asks first while a run is in progress (q)", "quit"),
)


class RlxCommands(Provider):
    """Exposes :data:`COMMANDS`; actions that do not apply right now are left out."""

    def _available(self) -> list[tuple[str, str, str]]:
        app = self.app
        return [c for c in COMMANDS if app.check_action(c[2], ()) is True]

    async def discover(self) -> Hits:
        for title, help_text, action in self._available():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text
                )
